using SpecEdge.Grains.Hosting;

namespace SpecEdge.Cluster.Tests;

/// <summary>The shared cluster's set-up with server-side speculative decoding: the silo drafts with the target's own weights.</summary>
public sealed class ServerDraftClusterFixture : ClusterFixture
{
    // A perfect draft is accepted deeply, so the trees near the end of the context really have to shrink. Trees are
    // verified whole: a draft as large as the target rarely pays for its drafting, and goodput trimming would then decode
    // these tests' steps plainly (TrimRule.DraftsServerTrees), leaving the server's trees untested.
    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.ServerDraftModel = TargetDir;
        options.TreeTrimming = SpecEdge.Inference.Speculative.TrimMode.Off;
    }
}
