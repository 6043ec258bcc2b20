using System.Text.Json;
using Azure.Storage.Blobs;
using Orleans.Runtime;
using Orleans.Storage;
using SpecEdge.Grains.Persistence;
using Xunit;
using static SpecEdge.Persistence.Tests.SessionBlobStorageTests;

namespace SpecEdge.Persistence.Tests;

/// <summary>
/// Conversations saved by the provider Orleans' one replaced (<c>{type}/{key}/{state}.json</c>, System.Text.Json):
/// read through the fallback, migrated on the first write, never silently empty, never resurrected after a clear.
/// </summary>
[Collection(AzuriteCollection.Name)]
[Trait("Kind", "process")]
public sealed class LegacyBlobFallbackTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task Read_WithOnlyAnOldBlob_ReturnsItsState_AndTheFirstWriteMigratesIt()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var old = await WriteLegacyAsync(silo.Container, grainId, Sample("saved before the switch"));

        var read = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.True(read.RecordExists);
        Assert.Null(read.ETag);
        AssertSameState(Sample("saved before the switch"), read.State);

        read.State.Name = "continued after the switch";
        await silo.Storage.WriteStateAsync(StateName, grainId, read);
        Assert.False(await old.ExistsAsync(), "the old blob is deleted once the new one is written");
        var again = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.Equal("continued after the switch", again.State.Name);
        Assert.Equal(read.ETag, again.ETag);
    }

    [Fact]
    public async Task Read_WhenBothLayoutsExist_TheNewBlobWins()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        await silo.Storage.WriteStateAsync(StateName, grainId, new GrainState<SampleState> { State = Sample("new") });
        await WriteLegacyAsync(silo.Container, grainId, Sample("old"));

        Assert.Equal("new", (await ReadAsync<SampleState>(silo.Storage, grainId)).State.Name);
    }

    [Fact]
    public async Task Migration_TwoActivationsRacingFromTheOldBlob_ExactlyOneWins()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        await WriteLegacyAsync(silo.Container, grainId, Sample("old"));
        var writers = new[] { await ReadAsync<SampleState>(silo.Storage, grainId), await ReadAsync<SampleState>(silo.Storage, grainId) };
        for (int i = 0; i < writers.Length; i++) writers[i].State.Name = $"activation-{i}";

        var errors = await Task.WhenAll(writers.Select(w => CaptureAsync(() => silo.Storage.WriteStateAsync(StateName, grainId, w))));

        Assert.Single(errors, e => e is null);
        Assert.IsType<InconsistentStateException>(Assert.Single(errors, e => e is not null));
        Assert.Equal(writers[Array.IndexOf(errors, null)].State.Name, (await ReadAsync<SampleState>(silo.Storage, grainId)).State.Name);
    }

    [Fact]
    public async Task Read_OfAnOldBlobThatIsNotJson_FailsNamingTheBlob_InsteadOfStartingEmpty()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var blob = new BlobContainerClient(azurite.ConnectionString, silo.Container).GetBlobClient(LegacyBlobName.For(StateName, grainId));
        await blob.UploadAsync(BinaryData.FromString("{ not json"));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => ReadAsync<SampleState>(silo.Storage, grainId));
        Assert.Contains(blob.Name, error.Message);
        Assert.Contains("refusing to start", error.Message);
    }

    [Fact]
    public async Task Clear_OfAMigratedConversation_DoesNotBringTheOldStateBack()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grainId = NewGrainId();
        var old = await WriteLegacyAsync(silo.Container, grainId, Sample("old"));
        var read = await ReadAsync<SampleState>(silo.Storage, grainId);

        await silo.Storage.ClearStateAsync(StateName, grainId, read);

        Assert.False(await old.ExistsAsync());
        var after = await ReadAsync<SampleState>(silo.Storage, grainId);
        Assert.False(after.RecordExists);
        Assert.Equal("", after.State.Name);
    }

    [Fact]
    public async Task Grain_WithAConversationSavedBeforeTheSwitch_ActivatesWithItsState()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grain = silo.Cluster.Client.GetGrain<ISampleStateGrain>("pre-switch-" + Guid.NewGuid().ToString("N"));
        await WriteLegacyAsync(silo.Container, grain.GetGrainId(), Sample("from the old provider"));

        AssertSameState(Sample("from the old provider"), await grain.GetAsync());
        await grain.SaveAsync(Sample("saved by the new one"));
        await grain.DeactivateAsync();
        await silo.Cluster.WaitForDeactivationAsync(grain);
        Assert.Equal("saved by the new one", (await grain.GetAsync()).Name);
    }

    /// <summary>Writes a blob exactly as the replaced provider did: its name layout, System.Text.Json General defaults.</summary>
    private async Task<BlobClient> WriteLegacyAsync(string container, GrainId grainId, SampleState state)
    {
        var blob = new BlobContainerClient(azurite.ConnectionString, container).GetBlobClient(LegacyBlobName.For(StateName, grainId));
        await blob.UploadAsync(BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(state, new JsonSerializerOptions(JsonSerializerDefaults.General))));
        return blob;
    }
}
