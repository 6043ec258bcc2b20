using Orleans.Storage;
using Xunit;

namespace SpecEdge.Persistence.Tests;

/// <summary>Session storage inside a real (in-process) silo, registered the way the silo host registers it.</summary>
[Collection(AzuriteCollection.Name)]
[Trait("Kind", "process")]
public sealed class BlobPersistenceClusterTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task PersistentState_AfterDeactivation_NewActivationReadsTheStateFromAzurite()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var grain = silo.Cluster.Client.GetGrain<ISampleStateGrain>("session-1");
        var saved = SessionBlobStorageTests.Sample("from the grain");
        await grain.SaveAsync(saved);
        var firstActivation = await grain.GetActivationIdAsync();

        await grain.DeactivateAsync();
        await silo.Cluster.WaitForDeactivationAsync(grain);

        Assert.NotEqual(firstActivation, await grain.GetActivationIdAsync());
        SessionBlobStorageTests.AssertSameState(saved, await grain.GetAsync());

        // And the state is in Azurite, not only in the new activation.
        var direct = new GrainState<SampleState>();
        await silo.Storage.ReadStateAsync("state", grain.GetGrainId(), direct);
        Assert.True(direct.RecordExists);
        Assert.Equal("from the grain", direct.State!.Name);
    }
}
