using Google.Protobuf;
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
