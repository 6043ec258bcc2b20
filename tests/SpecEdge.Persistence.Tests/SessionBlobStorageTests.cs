using Azure.Storage.Blobs;
using Orleans.Runtime;
using Orleans.Storage;
using SpecEdge.Contracts;
using SpecEdge.Grains.Sessions;
using Xunit;

namespace SpecEdge.Persistence.Tests;

/// <summary>
/// Session storage as the silo registers it (Orleans' Azure Blob provider, System.Text.Json) against Azurite:
/// round trips of the real state types, ETag conflicts as <see cref="InconsistentStateException"/>.
/// </summary>
[Collection(AzuriteCollection.Name)]
[Trait("Kind", "process")]
public sealed class SessionBlobStorageTests(AzuriteFixture azurite)
{
    internal const string StateName = "state";

    [Fact]
    public async Task ReadWrite_RoundTripsTheSampleState_AsSystemTextJsonBlobs()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var fresh = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.False(fresh.RecordExists);
        Assert.Null(fresh.ETag);

        var written = new GrainState<SampleState> { State = Sample("round-trip") };
        await silo.Storage.WriteStateAsync(StateName, grainId, written);
        Assert.True(written.RecordExists);
        Assert.False(string.IsNullOrEmpty(written.ETag));

        var read = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        AssertSameState(written.State, read.State);

        // One blob, readable JSON written by System.Text.Json (Orleans' default would be Newtonsoft with "$type").
        var container = new BlobContainerClient(azurite.ConnectionString, silo.Container);
        var blob = Assert.Single(container.GetBlobs());
        string json = (await container.GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToString();
        Assert.Contains("\"round-trip\"", json);
        Assert.DoesNotContain("$type", json);
    }

    [Fact]
    public async Task SessionState_RoundTripsEveryField_WithSystemTextJson()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = GrainId.Create("session", "test/chat-" + Guid.NewGuid().ToString("N"));
        var state = new SessionState
        {
            Messages = [new ChatTurn("system", "be brief"), new ChatTurn("user", "hello ✓ 😀")],
            Committed = [151643, 0, 7, 2047],
            Settings = new GenerationSettings { Temperature = 0.7, TopK = 40, TopP = 0.95, Seed = ulong.MaxValue - 3, MaxNewTokens = 99, StopStrings = ["\n\n", "END"], UseChatTemplate = false, SystemPrompt = "sys" },
            Step = 1L << 40,
            AttachedEdge = "edge-1",
            Generating = true,
            ReplyStart = 2,
            ReplyChunkSizes = [1, 3],
            ReplyFinish = "Stop",
            QuotaTenant = "tenant-a",
        };
        await silo.Storage.WriteStateAsync("session", grainId, new GrainState<SessionState> { State = state });

        var read = (await ReadAsync<SessionState>(silo.Storage, grainId, "session")).State;
        Assert.Equal(state.Messages, read.Messages);
        Assert.Equal(state.Committed, read.Committed);
        Assert.Equal(state.Settings with { StopStrings = [] }, read.Settings with { StopStrings = [] });
        Assert.Equal(state.Settings.StopStrings, read.Settings.StopStrings);
        Assert.Equal(state.Step, read.Step);
        Assert.Equal(state.AttachedEdge, read.AttachedEdge);
        Assert.Equal(state.Generating, read.Generating);
        Assert.Equal(state.ReplyStart, read.ReplyStart);
        Assert.Equal(state.ReplyChunkSizes, read.ReplyChunkSizes);
        Assert.Equal(state.ReplyFinish, read.ReplyFinish);
        Assert.Equal(state.QuotaTenant, read.QuotaTenant);
    }

    [Fact]
    public async Task Write_WithStaleETag_ThrowsInconsistentStateAndLeavesStoredStateUnchanged()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var first = new GrainState<SampleState> { State = Sample("first") };
        await silo.Storage.WriteStateAsync(StateName, grainId, first);
        var staleETag = first.ETag;
        first.State.Name = "second";
        await silo.Storage.WriteStateAsync(StateName, grainId, first);

        var stale = new GrainState<SampleState> { State = Sample("stale"), ETag = staleETag, RecordExists = true };
        await Assert.ThrowsAsync<InconsistentStateException>(() => silo.Storage.WriteStateAsync(StateName, grainId, stale));

        var stored = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.Equal("second", stored.State.Name);
        Assert.Equal(first.ETag, stored.ETag);
    }

    [Fact]
    public async Task Write_FirstWriteWhenTheRecordAlreadyExists_ThrowsInconsistentState()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var believesEmpty = await ReadAsync<SampleState>(silo.Storage, grainId);
        await silo.Storage.WriteStateAsync(StateName, grainId, new GrainState<SampleState> { State = Sample("other writer") });

        believesEmpty.State = Sample("late first write");
        await Assert.ThrowsAsync<InconsistentStateException>(() => silo.Storage.WriteStateAsync(StateName, grainId, believesEmpty));
        Assert.Equal("other writer", (await ReadAsync<SampleState>(silo.Storage, grainId)).State.Name);
    }

    [Fact]
    public async Task Write_TwoWritersRacingFromTheSameRead_ExactlyOneWins()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        await silo.Storage.WriteStateAsync(StateName, grainId, new GrainState<SampleState> { State = Sample("base") });
        var writers = new[] { await ReadAsync<SampleState>(silo.Storage, grainId), await ReadAsync<SampleState>(silo.Storage, grainId) };
        for (int i = 0; i < writers.Length; i++) writers[i].State.Name = $"writer-{i}";

        var errors = await Task.WhenAll(writers.Select(w => CaptureAsync(() => silo.Storage.WriteStateAsync(StateName, grainId, w))));

        Assert.Single(errors, e => e is null);
        Assert.IsType<InconsistentStateException>(Assert.Single(errors, e => e is not null));
        var winner = writers[Array.IndexOf(errors, null)];
        var stored = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.Equal(winner.State.Name, stored.State.Name);
        Assert.Equal(winner.ETag, stored.ETag);
    }

    [Fact]
    public async Task Clear_ThenRead_GivesNoRecordAndAFreshWriteSucceeds()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var state = new GrainState<SampleState> { State = Sample("to clear") };
        await silo.Storage.WriteStateAsync(StateName, grainId, state);
        await silo.Storage.ClearStateAsync(StateName, grainId, state);

        var read = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.False(read.RecordExists);
        Assert.Equal("", read.State.Name);
        read.State.Name = "after clear";
        await silo.Storage.WriteStateAsync(StateName, grainId, read);
        Assert.Equal("after clear", (await ReadAsync<SampleState>(silo.Storage, grainId)).State.Name);
    }

    internal static async Task<Exception?> CaptureAsync(Func<Task> action)
    {
        try { await action(); return null; }
        catch (Exception e) { return e; }
    }

    internal static async Task<GrainState<T>> ReadAsync<T>(IGrainStorage storage, GrainId grainId, string stateName = StateName)
    {
        var state = new GrainState<T>();
        await storage.ReadStateAsync(stateName, grainId, state);
        return state;
    }

    internal static GrainId NewGrainId() => GrainId.Create("sample", Guid.NewGuid().ToString("N"));

    internal static SampleState Sample(string name) => new()
    {
        Name = name,
        Counter = long.MaxValue - 7,
        TokenIds = [151643, 0, -1, 42],
        Offsets = [0, 1L << 40, long.MinValue],
        Checkpoint = new SampleCheckpoint(3, "three", [1, 2, 3]),
        History = [new SampleCheckpoint(1, "one", []), new SampleCheckpoint(2, "two ✓", [7])],
    };

    internal static void AssertSameState(SampleState expected, SampleState actual)
    {
        Assert.Equal(expected.Name, actual.Name);
        Assert.Equal(expected.Counter, actual.Counter);
        Assert.Equal(expected.TokenIds, actual.TokenIds);
        Assert.Equal(expected.Offsets, actual.Offsets);
        Assert.Equal(expected.Checkpoint!.Accepted, actual.Checkpoint!.Accepted);
        Assert.Equal(expected.Checkpoint with { Accepted = [] }, actual.Checkpoint with { Accepted = [] });
        Assert.Equal(expected.History.Select(h => (h.Step, h.Label, string.Join(",", h.Accepted))), actual.History.Select(h => (h.Step, h.Label, string.Join(",", h.Accepted))));
    }
}
