namespace SpecEdge.Grains.Verification;

/// <summary>How a verifier chooses what goes into its next forward (silo option <c>SpecEdge:Batching</c>).</summary>
public enum BatchingPolicy
{
    /// <summary>Everything waiting (up to MaxBatch) as soon as the device is free.</summary>
    WorkConserving,
    /// <summary>
    /// As <see cref="WorkConserving"/>, but when edges take about as long to come back (draft + round trip) as a forward
    /// takes, edge trees are split into groups that alternate on the device (see <see cref="PipelineBatchPlanner"/>).
    /// </summary>
    PipelineAware,
}
