using SpecEdge.Contracts;

namespace SpecEdge.Grains.Verification;

/// <summary>A verifier's answer to a session: the verdict, plus the sequence's RNG position to persist with it.</summary>
[GenerateSerializer, Immutable]
public sealed record StepOutcome([property: Id(0)] StepVerdict Verdict, [property: Id(1)] long RngPosition);
