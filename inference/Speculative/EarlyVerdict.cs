namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What the target's early-exit head would accept of a step's tree, found half-way through the verifying forward: the
/// accepted path's tokens below the root and the bonus token, by the same acceptance rule and the same position-keyed
/// draws as the final verdict, on the head's logits instead of the final layer's. A bet, not a decision: only the final
/// verdict (<see cref="VerdictMessage"/>) commits tokens, so an edge may draft the next tree from it ahead of time and
/// loses nothing but that work when it turns out wrong. Not cut by stop rules (the final verdict applies them).
/// </summary>
public sealed record EarlyVerdict(long Step, int[] AcceptedTokens);
