namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The load a tree was verified under, as its drafter learns it with the verdict: trees in the forward, steps still
/// queued, the forward's time, the step's round trip as the drafter measured it, and how many nodes a trimming verifier
/// verified (-1: the whole tree).
/// </summary>
public readonly record struct VerifierLoad(int Batch, int Queue, double ServerMs, double RoundTripMs, int VerifiedNodes = -1);
