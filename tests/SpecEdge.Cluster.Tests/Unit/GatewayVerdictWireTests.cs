using Google.Protobuf;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Gateway.V1;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A verdict as the edge gateway carries it: the steps of a hand-back survive the protobuf encoding and reach the
/// edge's drafter, which then drafts for the step after them; an older silo's verdict (no such field) means none.
/// </summary>
[Trait("Kind", "unit")]
public class GatewayVerdictWireTests
{
    [Fact]
    public void AHandBacksSteps_SurviveTheWire_AndMoveTheNextStepPastThem()
    {
        var sent = new Verdict { Step = 5, Finished = false, ServerSteps = 3, VerifiedNodes = 0 };
        sent.AcceptedTokens.Add(new[] { 11, 12, 13, 14 });
        var received = GatewayEdgeLink.FromWire("t/c", Verdict.Parser.ParseFrom(sent.ToByteArray()));

        Assert.Equal(3, received.ServerSteps);
        Assert.Equal(new[] { 11, 12, 13, 14 }, received.AcceptedTokens);
        Assert.Equal(9, received.Verdict.NextStep);
        Assert.Equal(0, received.VerifiedNodes);
    }

    [Fact]
    public void TheSilosEncoding_OfAHandBack_IsWhatTheEdgeReadsBack()
    {
        // The silo's side: a session's verdict after a hand-back (its own tokens, then three server steps' tokens).
        var verdict = new StepVerdict("t/c", 5, new[] { 11, 12, 13, 14, 15 }, false, null, serverMilliseconds: 7.5, batchSize: 2, queueLength: 1,
            verifiedNodes: 0) { ServerSteps = 3 };
        var wire = SpecEdge.Silo.Gateway.VerdictWire.ToWire(verdict);
        var received = GatewayEdgeLink.FromWire("t/c", Verdict.Parser.ParseFrom(wire.ToByteArray()));

        Assert.Equal(verdict.AcceptedTokens, received.AcceptedTokens);
        Assert.Equal(3, received.ServerSteps);
        Assert.Equal(verdict.Verdict.NextStep, received.Verdict.NextStep);   // 9: the edge's next tree is past the server's steps
        Assert.Equal(0, received.VerifiedNodes);
        Assert.Equal(verdict.Finished, received.Finished);
        Assert.Equal(2, received.BatchSize);
    }

    [Fact]
    public void AVerdictWithoutServerSteps_IsOneStep()
    {
        var sent = new Verdict { Step = 5 };
        sent.AcceptedTokens.Add(7);
        var received = GatewayEdgeLink.FromWire("t/c", Verdict.Parser.ParseFrom(sent.ToByteArray()));

        Assert.Equal(0, received.ServerSteps);
        Assert.Equal(6, received.Verdict.NextStep);
        Assert.Equal(-1, received.VerifiedNodes);
    }
}
