using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The shared cluster's set-up with pipeline-aware batching and step timings in verdicts.</summary>
public sealed class PipelineBatchingClusterFixture : ClusterFixture
{
    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.Batching = BatchingPolicy.PipelineAware;
        options.StepTimings = true;
    }
}

[CollectionDefinition(Name)]
public sealed class PipelineBatchingCollection : ICollectionFixture<PipelineBatchingClusterFixture>
{
    public const string Name = "pipeline-batching cluster";
}
