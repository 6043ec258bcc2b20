using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using SpecEdge.Grains.Hosting;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The shared cluster's set-up with session storage that tests can hold back or fail (<see cref="ControlledGrainStorage"/>),
/// and the edge drafting a reply's first step (SpecEdge:ServerFirstToken off): its tests submit each step of a reply by
/// hand from the turn's start, and it is where the behaviour without the server's first token stays covered.
/// </summary>
public sealed class StorageFaultClusterFixture : ClusterFixture
{
    protected override void ConfigureModels(SpecEdgeSiloOptions options) => options.ServerFirstToken = false;

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
