using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Benchmarks;

/// <summary>
/// The in-process cluster of the benchmarks that measure the cluster from inside one process: one silo running SpecEdge
/// with <paramref name="options"/>, a client with the tree channel, and what a benchmark adds to either (storage,
/// security, TLS). Real processes are <see cref="TestSupport.ProcessCluster"/>.
/// </summary>
public static class BenchCluster
{
    /// <param name="inMemorySessions">False when <paramref name="silo"/> registers the "sessions" storage itself.</param>
    public static async Task<InProcessTestCluster> StartAsync(Action<SpecEdgeSiloOptions> options, Action<ISiloBuilder>? silo = null,
        Action<IClientBuilder>? client = null, bool inMemorySessions = true)
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, s) =>
        {
            s.AddSpecEdge(options, inMemorySessions);
            silo?.Invoke(s);
        });
        builder.ConfigureClient(c =>
        {
            c.AddBroadcastChannel(ChannelNames.Provider);
            client?.Invoke(c);
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return cluster;
    }
}
