using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A silo whose verifier cuts every edge tree to its root and hands back runs as long as the options allow (1024 steps,
/// 10 s): after its first step, a reply of a few hundred tokens is one run of server steps inside one request.
/// </summary>
public sealed class LongHandBackClusterFixture : ClusterFixture
{
    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.TreeTrimming = TrimMode.Forced;
        options.ForcedTreeNodes = 0;
        options.HandBackSteps = 1024;
        options.HandBackMaxMilliseconds = 10_000;
    }
}
