using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Cluster.Tests;

/// <summary>Every tree cut to two nodes by the verifier (SpecEdge:TreeTrimming Forced), with the target's weights as server draft.</summary>
public sealed class TrimmedTreeClusterFixture : ClusterFixture
{
    public const int Nodes = 2;

    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.TreeTrimming = TrimMode.Forced;
        options.ForcedTreeNodes = Nodes;
        options.ServerDraftModel = TargetDir;
    }
}
