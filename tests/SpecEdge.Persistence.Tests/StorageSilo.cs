using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Orleans.TestingHost;
using SpecEdge.Grains.Persistence;

namespace SpecEdge.Persistence.Tests;

/// <summary>
/// One in-process silo with session storage "blob" registered exactly as the silo host registers it
/// (<see cref="BlobSessionStorageSiloBuilderExtensions.AddSpecEdgeBlobStorage"/>), on a container of its own.
/// Tests call the storage resolved from the silo's services, or grains that persist through it.
/// </summary>
public sealed class StorageSilo : IAsyncDisposable
{
    public const string ProviderName = "blob";

    private StorageSilo(InProcessTestCluster cluster, string container)
    {
        Cluster = cluster;
        Container = container;
        Storage = cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(ProviderName);
    }

    public InProcessTestCluster Cluster { get; }
    public string Container { get; }

    /// <summary>What grains naming storage "blob" use: Orleans' provider behind the legacy read fallback.</summary>
    public IGrainStorage Storage { get; }

    public static async Task<StorageSilo> StartAsync(AzuriteFixture azurite, string? container = null)
    {
        container ??= AzuriteFixture.NewContainerName();
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => silo.AddSpecEdgeBlobStorage(ProviderName, azurite.ConnectionString, container));
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new StorageSilo(cluster, container);
    }

    public ValueTask DisposeAsync() => Cluster.DisposeAsync();
}
