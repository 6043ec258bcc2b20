using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Azure.Storage.Blobs;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;
using SpecEdge.Grains.Persistence;
using Xunit.Abstractions;
using Xunit;

namespace SpecEdge.Persistence.Tests;

/// <summary>The storage provider on its own against Azurite: no silo, a made-up grain id and Orleans' GrainState.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class AzureBlobGrainStorageTests(AzuriteFixture azurite, ITestOutputHelper output)
{
    private const string StateName = "state";

    [Fact]
    public async Task ReadWrite_RoundTripsListsArraysLongsStringsAndNestedRecords()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();

        var fresh = new GrainState<SampleState>();
        await storage.ReadStateAsync(StateName, grainId, fresh);
        Assert.False(fresh.RecordExists);
        Assert.Null(fresh.ETag);
        Assert.NotNull(fresh.State);

        var written = new GrainState<SampleState> { State = Sample("round-trip") };
        var stopwatch = Stopwatch.StartNew();
        await storage.WriteStateAsync(StateName, grainId, written);
        var writeTime = stopwatch.Elapsed;
        Assert.True(written.RecordExists);
        Assert.False(string.IsNullOrEmpty(written.ETag));

        stopwatch.Restart();
        var read = new GrainState<SampleState>();
        await storage.ReadStateAsync(StateName, grainId, read);
        output.WriteLine($"Azurite start {azurite.StartupTime.TotalMilliseconds:0} ms; write {writeTime.TotalMilliseconds:0.0} ms; read {stopwatch.Elapsed.TotalMilliseconds:0.0} ms");

        Assert.True(read.RecordExists);
        Assert.Equal(written.ETag, read.ETag);
        AssertSameState(written.State, read.State!);
    }

    [Fact]
    public async Task Write_WithStaleETag_ThrowsInconsistentStateAndLeavesStoredStateUnchanged()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();
        var first = new GrainState<SampleState> { State = Sample("first") };
        await storage.WriteStateAsync(StateName, grainId, first);
        var staleETag = first.ETag;
        first.State!.Name = "second";
        await storage.WriteStateAsync(StateName, grainId, first);

        var stale = new GrainState<SampleState> { State = Sample("stale"), ETag = staleETag, RecordExists = true };
        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grainId, stale));

        Assert.Equal(staleETag, error.CurrentEtag);
        Assert.Equal(first.ETag, error.StoredEtag);
        var stored = await ReadAsync(storage, grainId);
        Assert.Equal("second", stored.State!.Name);
        Assert.Equal(first.ETag, stored.ETag);
    }

    [Fact]
    public async Task Write_TwoWritersRacingFromTheSameRead_ExactlyOneWins()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();
        await storage.WriteStateAsync(StateName, grainId, new GrainState<SampleState> { State = Sample("base") });

        var writers = new List<GrainState<SampleState>>();
        for (var i = 0; i < 2; i++)
        {
            var copy = await ReadAsync(storage, grainId);
            copy.State!.Name = $"writer-{i}";
            writers.Add(copy);
        }
        Assert.Equal(writers[0].ETag, writers[1].ETag);

        var outcomes = await Task.WhenAll(writers.Select(async w =>
        {
            try
            {
                await storage.WriteStateAsync(StateName, grainId, w);
                return (Winner: w, Error: (Exception?)null);
            }
            catch (Exception e)
            {
                return (Winner: w, Error: e);
            }
        }));

        var winners = outcomes.Where(o => o.Error is null).ToList();
        var losers = outcomes.Where(o => o.Error is not null).ToList();
        Assert.Single(winners);
        Assert.IsType<InconsistentStateException>(Assert.Single(losers).Error);
        var stored = await ReadAsync(storage, grainId);
        Assert.Equal(winners[0].Winner.State!.Name, stored.State!.Name);
        Assert.Equal(winners[0].Winner.ETag, stored.ETag);
    }

    [Fact]
    public async Task Write_FirstWriteWhenTheRecordAlreadyExists_ThrowsInconsistentState()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();
        var believesEmpty = new GrainState<SampleState>();
        await storage.ReadStateAsync(StateName, grainId, believesEmpty);
        Assert.False(believesEmpty.RecordExists);

        var other = new GrainState<SampleState> { State = Sample("other writer") };
        await storage.WriteStateAsync(StateName, grainId, other);

        believesEmpty.State = Sample("late first write");
        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync(StateName, grainId, believesEmpty));
        Assert.Null(error.CurrentEtag);
        Assert.Equal(other.ETag, error.StoredEtag);
        Assert.Equal("other writer", (await ReadAsync(storage, grainId)).State!.Name);
    }

    [Fact]
    public async Task Clear_ThenRead_GivesNoRecordAndAFreshWriteSucceeds()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();
        var state = new GrainState<SampleState> { State = Sample("to clear") };
        await storage.WriteStateAsync(StateName, grainId, state);

        await storage.ClearStateAsync(StateName, grainId, state);
        Assert.False(state.RecordExists);
        Assert.Null(state.ETag);

        var read = await ReadAsync(storage, grainId);
        Assert.False(read.RecordExists);
        Assert.Null(read.ETag);
        Assert.Equal("", read.State!.Name);

        read.State!.Name = "after clear";
        await storage.WriteStateAsync(StateName, grainId, read);
        Assert.Equal("after clear", (await ReadAsync(storage, grainId)).State!.Name);
    }

    [Fact]
    public async Task Clear_WithStaleETag_ThrowsInconsistentStateAndKeepsTheRecord()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();
        var state = new GrainState<SampleState> { State = Sample("v1") };
        await storage.WriteStateAsync(StateName, grainId, state);
        var stale = new GrainState<SampleState> { State = state.State, ETag = state.ETag, RecordExists = true };
        state.State = Sample("v2");
        await storage.WriteStateAsync(StateName, grainId, state);

        var error = await Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync(StateName, grainId, stale));

        Assert.Equal(state.ETag, error.StoredEtag);
        var stored = await ReadAsync(storage, grainId);
        Assert.True(stored.RecordExists);
        Assert.Equal("v2", stored.State!.Name);
    }

    [Fact]
    public async Task Clear_WithoutETagWhileARecordExists_ThrowsInconsistentState()
    {
        var storage = await NewStorageAsync();
        var grainId = NewGrainId();
        await storage.WriteStateAsync(StateName, grainId, new GrainState<SampleState> { State = Sample("exists") });

        await Assert.ThrowsAsync<InconsistentStateException>(
            () => storage.ClearStateAsync(StateName, grainId, new GrainState<SampleState>()));
        Assert.True((await ReadAsync(storage, grainId)).RecordExists);
    }

    [Fact]
    public async Task BlobNames_KeysWithSlashesDotsAndEscapeCharacters_NeverCollide()
    {
        var storage = await NewStorageAsync();
        string[] keys = ["a/b", "a_b", "a~2Fb", "a.b", "..", "ü/€", new string('k', 600)];
        foreach (var key in keys)
            await storage.WriteStateAsync(StateName, GrainId.Create("sample", key), new GrainState<SampleState> { State = Sample(key) });

        foreach (var key in keys)
            Assert.Equal(key, (await ReadAsync(storage, GrainId.Create("sample", key))).State!.Name);
    }

    [Fact]
    public async Task Participate_StartCallback_CreatesTheContainerAtApplicationServices()
    {
        var containerName = AzuriteFixture.NewContainerName("startup");
        var container = new BlobContainerClient(azurite.ConnectionString, containerName);
        Assert.False(await container.ExistsAsync());
        var storage = NewStorage(containerName);
        var lifecycle = new FakeSiloLifecycle();

        storage.Participate(lifecycle);
        var (_, stage, observer) = Assert.Single(lifecycle.Subscriptions);
        Assert.Equal(ServiceLifecycleStage.ApplicationServices, stage);
        await observer.OnStart(CancellationToken.None);

        Assert.True(await container.ExistsAsync());
        await observer.OnStart(CancellationToken.None); // a second silo starting on the same container is fine
    }

    [Fact]
    public async Task Operations_OnAnUnreachableAccount_FailWithinSecondsNamingTheEndpoint()
    {
        var deadPort = ClosedLoopbackPort();
        var storage = new AzureBlobGrainStorage("blob", new AzureBlobStorageOptions
        {
            ConnectionString = azurite.ConnectionString.Replace($":{azurite.Port}/", $":{deadPort}/"),
            ContainerName = "unreachable",
        }, NullLogger<AzureBlobGrainStorage>.Instance);

        var operations = new Dictionary<string, Func<Task>>
        {
            ["start-up"] = () => storage.InitializeAsync(CancellationToken.None),
            ["read"] = () => storage.ReadStateAsync(StateName, NewGrainId(), new GrainState<SampleState>()),
            ["write"] = () => storage.WriteStateAsync(StateName, NewGrainId(), new GrainState<SampleState> { State = Sample("x") }),
        };
        foreach (var (name, operation) in operations)
        {
            var stopwatch = Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<OrleansException>(operation);
            output.WriteLine($"{name}: {stopwatch.ElapsedMilliseconds} ms: {error.Message}");
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"{name} took {stopwatch.Elapsed}");
            Assert.Contains($"127.0.0.1:{deadPort}", error.Message);
            Assert.Contains("unreachable", error.Message);
        }
    }

    [Fact]
    public void Constructor_WithoutConnectionString_FailsNamingTheSetting()
    {
        var error = Assert.Throws<OrleansConfigurationException>(
            () => new AzureBlobGrainStorage("blob", new AzureBlobStorageOptions(), NullLogger<AzureBlobGrainStorage>.Instance));
        Assert.Contains("'blob'", error.Message);
        Assert.Contains(nameof(AzureBlobStorageOptions.ConnectionString), error.Message);
    }

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
        AssertSameCheckpoint(expected.Checkpoint!, actual.Checkpoint!);
        Assert.Equal(expected.History.Count, actual.History.Count);
        for (var i = 0; i < expected.History.Count; i++)
            AssertSameCheckpoint(expected.History[i], actual.History[i]);
    }

    private static void AssertSameCheckpoint(SampleCheckpoint expected, SampleCheckpoint actual)
    {
        Assert.Equal(expected.Step, actual.Step);
        Assert.Equal(expected.Label, actual.Label);
        Assert.Equal(expected.Accepted, actual.Accepted);
    }

    private async Task<AzureBlobGrainStorage> NewStorageAsync()
    {
        var storage = NewStorage(AzuriteFixture.NewContainerName());
        await storage.InitializeAsync(CancellationToken.None);
        return storage;
    }

    private AzureBlobGrainStorage NewStorage(string containerName) =>
        new("blob", new AzureBlobStorageOptions { ConnectionString = azurite.ConnectionString, ContainerName = containerName },
            NullLogger<AzureBlobGrainStorage>.Instance);

    private static async Task<GrainState<SampleState>> ReadAsync(AzureBlobGrainStorage storage, GrainId grainId)
    {
        var state = new GrainState<SampleState>();
        await storage.ReadStateAsync(StateName, grainId, state);
        return state;
    }

    private static GrainId NewGrainId() => GrainId.Create("sample", Guid.NewGuid().ToString("N"));

    private static int ClosedLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port; // closed again when disposed: connections are refused
    }
}
