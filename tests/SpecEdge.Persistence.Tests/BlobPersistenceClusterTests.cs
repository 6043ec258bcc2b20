using Microsoft.Extensions.Configuration;
using Orleans.Storage;
using Orleans.TestingHost;
using SpecEdge.Grains.Persistence;
using Xunit;

namespace SpecEdge.Persistence.Tests;

/// <summary>The provider inside a real (in-process) silo, registered the way the silo host will register it.</summary>
[Collection(AzuriteCollection.Name)]
public sealed class BlobPersistenceClusterTests(AzuriteFixture azurite)
{
    [Fact]
    public async Task PersistentState_AfterDeactivation_NewActivationReadsTheStateFromAzurite()
    {
        var containerName = AzuriteFixture.NewContainerName("cluster");
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Storage:ConnectionString"] = azurite.ConnectionString,
            ["Storage:ContainerName"] = containerName,
        }).Build();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo.AddAzureBlobGrainStorage("blob", configuration.GetSection("Storage")));
        await using var cluster = builder.Build();
        await cluster.DeployAsync();

        var grain = cluster.Client.GetGrain<ISampleStateGrain>("session-1");
        var saved = AzureBlobGrainStorageTests.Sample("from the grain");
        await grain.SaveAsync(saved);
        var firstActivation = await grain.GetActivationIdAsync();

        await grain.DeactivateAsync();
        await cluster.WaitForDeactivationAsync(grain);

        Assert.NotEqual(firstActivation, await grain.GetActivationIdAsync());
        AzureBlobGrainStorageTests.AssertSameState(saved, await grain.GetAsync());

        // And the blob is where an operator would look for it.
        var storage = new AzureBlobGrainStorage("check",
            new AzureBlobStorageOptions { ConnectionString = azurite.ConnectionString, ContainerName = containerName },
            Microsoft.Extensions.Logging.Abstractions.NullLogger<AzureBlobGrainStorage>.Instance);
        var direct = new GrainState<SampleState>();
        await storage.ReadStateAsync("state", grain.GetGrainId(), direct);
        Assert.True(direct.RecordExists);
        Assert.Equal("from the grain", direct.State!.Name);
    }
}
