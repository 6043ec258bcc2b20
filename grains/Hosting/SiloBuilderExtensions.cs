using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SpecEdge.Contracts;
using SpecEdge.Grains.Placement;

namespace SpecEdge.Grains.Hosting;

/// <summary>Wires the SpecEdge grains into a silo: models, verifier placement, the tree channel, session storage.</summary>
public static class SiloBuilderExtensions
{
    /// <summary>
    /// Adds everything the grains need. Session state goes to the grain storage named "sessions"; unless the caller
    /// registers one (e.g. Azure Blob), an in-memory store is used and conversations do not survive the cluster.
    /// </summary>
    public static ISiloBuilder AddSpecEdge(this ISiloBuilder silo, Action<SpecEdgeSiloOptions> configure, bool inMemorySessions = true)
    {
        silo.Services.AddOptions<SpecEdgeSiloOptions>().Configure(configure);
        return AddCore(silo, inMemorySessions);
    }

    public static ISiloBuilder AddSpecEdge(this ISiloBuilder silo, IConfiguration configuration, bool inMemorySessions = true)
    {
        silo.Services.AddOptions<SpecEdgeSiloOptions>().Bind(configuration.GetSection(SpecEdgeSiloOptions.Section));
        return AddCore(silo, inMemorySessions);
    }

    private static ISiloBuilder AddCore(ISiloBuilder silo, bool inMemorySessions)
    {
        silo.Services.AddSingleton<ModelHost>();
        // Sessions read time through it (edge leases, capacity waits), so tests can move it by hand.
        silo.Services.TryAddSingleton(TimeProvider.System);
        silo.AddPlacementDirector<SiloPinnedPlacement, SiloPinnedPlacementDirector>();
        silo.AddIncomingGrainCallFilter<CallerSafeErrorsFilter>();
        // Push transport for trees: published by edge clients, delivered to the session grain named by the channel key.
        silo.AddBroadcastChannel(ChannelNames.Provider, options => options.FireAndForgetDelivery = true);
        if (inMemorySessions) silo.AddMemoryGrainStorage("sessions");
        return silo;
    }
}
