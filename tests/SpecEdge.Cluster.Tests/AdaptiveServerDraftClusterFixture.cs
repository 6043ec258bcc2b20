using SpecEdge.Grains.Hosting;

namespace SpecEdge.Cluster.Tests;

/// <summary>Server-side drafting with adaptive trees (SpecEdge:AdaptiveServerTrees), the target's own weights as the draft.</summary>
public sealed class AdaptiveServerDraftClusterFixture : ClusterFixture
{
    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.ServerDraftModel = TargetDir;
        options.AdaptiveServerTrees = true;
    }
}
