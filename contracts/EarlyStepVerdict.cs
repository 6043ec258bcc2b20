namespace SpecEdge.Contracts;

/// <summary>
/// What the target's early-exit head would accept of the tree in flight for step <see cref="Step"/>: the path's tokens
/// below the root and the head's bonus token, sent half-way through the verifying forward (silos with
/// <c>SpecEdge:EarlyVerdicts</c> on). A bet the edge may draft its next tree on, never a decision: only the
/// <see cref="StepVerdict"/> commits tokens. It can arrive after the verdict (stale: ignore it) or not at all.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.EarlyStepVerdict")]
public sealed record EarlyStepVerdict(
    [property: Id(0)] string SessionId,
    [property: Id(1)] long Step,
    [property: Id(2)] int[] AcceptedTokens);
