namespace SpecEdge.Inference.Speculative;

/// <summary>
/// How <see cref="AdaptiveTreePolicy"/> shapes each step's tree. The ceilings are the drafter's own
/// <see cref="DraftTreeOptions.Budget"/> and <see cref="DraftTreeOptions.MaxDepth"/> (already cut to the verifier's limit
/// from the attachment), so an adaptive tree is never larger than the fixed tree the same options describe.
/// </summary>
public sealed record AdaptiveTreeOptions
{
    public int MinBudget { get; init; } = 4;
    public int MinDepth { get; init; } = 2;
    /// <summary>Weight of the newest step in the moving average of accepted length (DSD-style recent window).</summary>
    public double Smoothing { get; init; } = 0.3;
    /// <summary>Levels drafted beyond the expected accepted length: room for a run of good steps to show itself.</summary>
    public double DepthHeadroom { get; init; } = 2.0;
    /// <summary>
    /// Nodes kept per level of depth; the budget is this times the depth before load shaping. Below about 4 a tree is
    /// a few chains and loses the second-choice siblings that rescue a rejected first choice.
    /// </summary>
    public double NodesPerLevel { get; init; } = 8;
    /// <summary>
    /// Tree tokens one verifier forward takes before its cost grows with more (a GPU's memory-bound knee; on a CPU every
    /// token costs). The budget is cut so the verifier's current batch and queue of trees of this size fit under it;
    /// 0 ignores load.
    /// </summary>
    public int VerifierTokenKnee { get; init; }
    /// <summary>
    /// When the measured round trip exceeds the verifier's forward time by this factor, a step costs the user mostly
    /// waiting, so one more level is drafted (its draft forward hides in the wait's shadow when pre-drafting).
    /// </summary>
    public double LongRoundTripFactor { get; init; } = 2.0;

    public void Validate(DraftTreeOptions tree)
    {
        if (MinBudget < 1 || MinBudget > tree.Budget)
            throw new ArgumentOutOfRangeException(nameof(MinBudget), MinBudget, $"Adaptive min budget must be in [1, budget={tree.Budget}].");
        if (MinDepth < 1 || MinDepth > tree.MaxDepth)
            throw new ArgumentOutOfRangeException(nameof(MinDepth), MinDepth, $"Adaptive min depth must be in [1, max_depth={tree.MaxDepth}].");
        if (!(Smoothing > 0 && Smoothing <= 1)) throw new ArgumentOutOfRangeException(nameof(Smoothing), Smoothing, "Smoothing must be in (0, 1].");
        if (!(DepthHeadroom >= 0)) throw new ArgumentOutOfRangeException(nameof(DepthHeadroom), DepthHeadroom, "Depth headroom must be >= 0.");
        if (!(NodesPerLevel >= 1)) throw new ArgumentOutOfRangeException(nameof(NodesPerLevel), NodesPerLevel, "Nodes per level must be >= 1.");
        if (VerifierTokenKnee < 0) throw new ArgumentOutOfRangeException(nameof(VerifierTokenKnee), VerifierTokenKnee, "Verifier token knee must be >= 0.");
    }
}
