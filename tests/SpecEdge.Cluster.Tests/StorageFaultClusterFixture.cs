using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The shared cluster's set-up with session storage that tests can hold back or fail (<see cref="ControlledGrainStorage"/>).</summary>
public sealed class StorageFaultClusterFixture : ClusterFixture
{
    protected override void ConfigureStorage(ISiloBuilder silo)
    {
        silo.AddMemoryGrainStorage("sessions-durable");
        silo.Services.AddKeyedSingleton<IGrainStorage>("sessions",
            (services, _) => new ControlledGrainStorage(services.GetRequiredKeyedService<IGrainStorage>("sessions-durable")));
    }
}

[CollectionDefinition(Name)]
public sealed class StorageFaultCollection : ICollectionFixture<StorageFaultClusterFixture>
{
    public const string Name = "storage-fault cluster";
}
