using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Model;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A silo whose verifier splits its forwards at an early-exit head and sends early verdicts (SpecEdge:EarlyVerdicts): the
/// head is the logit lens after layer 1 of the 2-layer test target, which agrees with the final layer often, not always.
/// </summary>
public sealed class EarlyVerdictClusterFixture : ClusterFixture
{
    protected override void PrepareTarget(CausalLm target, string targetDir)
    {
        using var lens = EarlyExitHead.FromFinalLayer(target, 1);
        lens.Save(targetDir);
    }

    protected override void ConfigureModels(SpecEdgeSiloOptions options) => options.EarlyVerdicts = true;
}
