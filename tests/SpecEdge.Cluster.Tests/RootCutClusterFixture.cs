using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Cluster.Tests;

/// <summary>Every edge tree cut to its root by the verifier (SpecEdge:TreeTrimming Forced, 0 nodes), with hand-backs of up to <see cref="HandBackSteps"/> steps.</summary>
public sealed class RootCutClusterFixture : ClusterFixture
{
    public const int HandBackSteps = 8;

    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.TreeTrimming = TrimMode.Forced;
        options.ForcedTreeNodes = 0;
        options.HandBackSteps = HandBackSteps;
    }
}
