namespace SpecEdge.Benchmarks.Capacity;

/// <summary>When the simulated verifier starts a forward.</summary>
public enum BatchPolicy
{
    /// <summary>As VerifierBatchGrain: whenever the device is free, run whatever is queued (up to the max batch), never wait.</summary>
    WorkConserving,
    /// <summary>As the spec benchmark's loop (and the reference code's fixed batches): wait until every sequence with a step to take has queued it.</summary>
    Lockstep,
    /// <summary>As VerifierBatchGrain under SpecEdge:Batching=PipelineAware: work-conserving, but a forward takes edge trees only up to PipelineBatchPlanner's group size.</summary>
    PipelineAware,
}
