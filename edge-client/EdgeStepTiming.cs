using SpecEdge.Contracts;

namespace SpecEdge.EdgeClient;

/// <summary>
/// One step as the edge saw it: drafting the tree (<see cref="DraftMs"/>, including any emulated draft time), when the
/// tree left and the verdict arrived (Unix microseconds, this machine's clock), applying and showing the verdict
/// (<see cref="DisplayMs"/>), the pre-draft done while waiting, and the silo's own breakdown if it sent one.
/// </summary>
public sealed record EdgeStepTiming(double DraftMs, long SentUnixMicroseconds, long VerdictUnixMicroseconds, double DisplayMs, double PreDraftMs, int Tokens, StepTiming? Server)
{
    /// <summary>Tree sent -> verdict received, in milliseconds.</summary>
    public double RoundTripMs => (VerdictUnixMicroseconds - SentUnixMicroseconds) / 1000.0;
}
