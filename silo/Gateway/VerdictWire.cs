using SpecEdge.Contracts;
using SpecEdge.Gateway.V1;

namespace SpecEdge.Silo.Gateway;

/// <summary>
/// A step's verdict as the edge gateway sends it: the protobuf message an edge's <c>GatewayEdgeLink.FromWire</c> reads
/// back (tokens, finish, the verified budget, a hand-back's server steps, the step's timings when on). A file of its
/// own so that the tests compile it against the edge's copy of the generated messages and check the round trip.
/// </summary>
public static class VerdictWire
{
    public static Verdict ToWire(StepVerdict v)
    {
        var wire = new Verdict { Step = v.Step, Finished = v.Finished, FinishReason = (int)(v.FinishReason ?? 0), ServerMs = v.ServerMilliseconds, BatchSize = v.BatchSize, QueueLength = v.QueueLength, ServerSteps = v.ServerSteps };
        wire.AcceptedTokens.Add(v.AcceptedTokens);
        if (v.VerifiedNodes >= 0) wire.VerifiedNodes = v.VerifiedNodes;
        if (v.Timing is { } t)
            wire.Timing = new SpecEdge.Gateway.V1.StepTiming { ReceivedUnixUs = t.ReceivedUnixMicroseconds, QueueUs = t.QueueMicroseconds, VerifyUs = t.VerifyMicroseconds, PersistUs = t.PersistMicroseconds, SessionUs = t.SessionMicroseconds };
        return wire;
    }
}
