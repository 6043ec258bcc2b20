using SpecEdge.Benchmarks;
using SpecEdge.Benchmarks.Capacity;
using Xunit;

namespace SpecEdge.Capacity.Tests;

/// <summary>The simulator against closed forms: cases simple enough to solve by hand, where any scheduling bug shows as a wrong number.</summary>
[Trait("Kind", "unit")]
public class SimulatorTests
{
    // Every step accepts the whole depth-2 path: 3 tokens per step, no randomness.
    private static readonly AcceptanceModel ThreeTokens = AcceptanceModel.PerDepth(1.0, 2);

    private static SimulationConfig Edge(int sessions, double draft, double rtt, IVerifyCost cost, int maxBatch = 8, BatchPolicy policy = BatchPolicy.WorkConserving, int? cores = null) => new()
    {
        Placement = DraftPlacement.Edge, Sessions = sessions, Verify = cost, Acceptance = ThreeTokens,
        EdgeDraft = new[] { DurationDistribution.Constant(draft) }, RoundTrip = DurationDistribution.Constant(rtt),
        MaxBatch = maxBatch, Policy = policy, ReplyTokens = 30, RepliesPerSession = 3, IncludePrefill = false, SharedCores = cores,
    };

    [Fact]
    public void OneEdge_ZeroRtt_ConstantCost_GivesClosedFormThroughputAndItl()
    {
        const double draft = 0.004, verify = 0.006;
        var r = Simulator.Run(Edge(1, draft, 0, new LinearVerifyCost(verify, 0, 0, 0)));

        Assert.Equal(90, r.Tokens);
        Assert.Equal(3 / (draft + verify), r.TokensPerSecond, 6);          // 300 tokens/s: one step of 3 tokens every 10 ms
        Assert.Equal((draft + verify) / 3 * 1000, r.ItlMeanMs, 6);          // 3.33 ms per token
        Assert.Equal(verify / (draft + verify), r.BusyFraction, 6);         // the server idles while the edge drafts
        Assert.Equal(3 / verify, r.TokensPerBusySecond, 6);
        Assert.Equal(draft * 30, r.EdgeBusySeconds, 9);
    }

    [Fact]
    public void UnequalReplies_AreTheSameInEveryMode()
    {
        var cost = new LinearVerifyCost(0.010, 0.002, 0, 0);
        var alike = Simulator.Run(Edge(4, 0.004, 0.015, cost));
        Assert.Equal(4 * 3 * 30, alike.Tokens);
        // Replies of 15 to 45 tokens, drawn from the seed, the session and the reply: the edge and the target alone commit
        // the same tokens in all, whatever their other draws.
        var edge = Simulator.Run(Edge(4, 0.004, 0.015, cost) with { ReplySpread = 0.5 });
        var plain = Simulator.Run(Edge(4, 0.004, 0.015, cost) with { ReplySpread = 0.5, Placement = DraftPlacement.None });
        Assert.NotEqual(alike.Tokens, edge.Tokens);
        Assert.Equal(edge.Tokens, plain.Tokens);
        Assert.Throws<ArgumentOutOfRangeException>(() => Simulator.Run(Edge(1, 0, 0, cost) with { ReplySpread = 1 }));
    }

    [Fact]
    public void OneEdge_RoundTrip_AddsToEveryStep()
    {
        const double draft = 0.004, verify = 0.006, rtt = 0.015;
        var r = Simulator.Run(Edge(1, draft, rtt, new LinearVerifyCost(verify, 0, 0, 0)));
        Assert.Equal((draft + rtt + verify) / 3 * 1000, r.ItlMeanMs, 6);
        Assert.Equal(3 / (draft + rtt + verify), r.TokensPerSecond, 6);
    }

    [Fact]
    public void WorkConserving_EdgesThatArriveTogether_ShareOneForward()
    {
        // Four edges with no draft time and no network stay in step: every forward verifies all four trees.
        var cost = new LinearVerifyCost(0.010, 0.002, 0, 0);
        var r = Simulator.Run(Edge(4, 0, 0, cost));
        Assert.Equal(4.0, r.MeanBatch, 9);
        Assert.Equal(4 * 3 / (0.010 + 4 * 0.002), r.TokensPerSecond, 6);
        Assert.Equal(1.0, r.BusyFraction, 9);
    }

    [Fact]
    public void MaxBatch_SplitsTheEdgesIntoBatchesThatAlternate()
    {
        // Max batch 2 of four ready edges: the verifier runs batches of 2 back to back, never idle.
        var cost = new LinearVerifyCost(0.010, 0.002, 0, 0);
        var r = Simulator.Run(Edge(4, 0, 0, cost, maxBatch: 2));
        Assert.Equal(2.0, r.MeanBatch, 9);
        Assert.Equal(2 * 3 / (0.010 + 2 * 0.002), r.TokensPerSecond, 6);
    }

    [Fact]
    public void WorkConserving_StartsAtOnce_WhileLockstepWaitsForTheSlowestEdge()
    {
        // Two edges, one drafting 1 ms and one 9 ms, forward 10 ms + 5 ms per tree.
        var edgeDrafts = new[] { DurationDistribution.Constant(0.001), DurationDistribution.Constant(0.009) };
        var cost = new LinearVerifyCost(0.010, 0.005, 0, 0);
        var lockstep = Simulator.Run(Edge(2, 0, 0, cost, policy: BatchPolicy.Lockstep) with { EdgeDraft = edgeDrafts });
        // Lockstep: every step waits for the 9 ms draft, then one forward of both trees: 9 + 20 ms per step.
        Assert.Equal(2.0, lockstep.MeanBatch, 9);
        Assert.Equal((0.009 + 0.020) / 3 * 1000, lockstep.ItlMeanMs, 6);
        var conserving = Simulator.Run(Edge(2, 0, 0, cost) with { EdgeDraft = edgeDrafts });
        Assert.True(conserving.MeanBatch < 2.0, $"work-conserving batches should split, mean batch {conserving.MeanBatch}");
    }

    [Fact]
    public void ServerOnlySd_DraftsCountAsServerTime()
    {
        var config = new SimulationConfig
        {
            Placement = DraftPlacement.Server, Sessions = 1, Verify = new LinearVerifyCost(0.006, 0, 0, 0), Acceptance = ThreeTokens,
            ServerDraft = (n, _) => n * 0.004, ReplyTokens = 30, RepliesPerSession = 2, IncludePrefill = false,
            RoundTrip = DurationDistribution.Constant(0.050),   // server-side modes stream: the round trip is off the step loop
        };
        var r = Simulator.Run(config);
        Assert.Equal(1.0, r.BusyFraction, 9);
        Assert.Equal(3 / 0.010, r.TokensPerBusySecond, 6);
        Assert.Equal(0.010 / 3 * 1000, r.ItlMeanMs, 6);
        Assert.Equal(0, r.EdgeBusySeconds);
    }

    [Fact]
    public void Autoregressive_EmitsOneTokenPerForward()
    {
        var config = new SimulationConfig
        {
            Placement = DraftPlacement.None, Sessions = 2, Verify = new LinearVerifyCost(0.004, 0.001, 0, 0), Acceptance = ThreeTokens,
            ReplyTokens = 10, RepliesPerSession = 1, IncludePrefill = false,
        };
        var r = Simulator.Run(config);
        Assert.Equal(1.0, r.TokensPerStep, 9);
        Assert.Equal(2 / 0.006, r.TokensPerSecond, 6);
    }

    [Fact]
    public void SharedCore_SerialisesDraftsAndForwards()
    {
        // One core for two edges and the verifier: nothing overlaps. Each round: two 4 ms drafts, then one forward
        // of both trees (6 + 1 + 1 ms) = 16 ms for 6 tokens.
        var cost = new LinearVerifyCost(0.006, 0.001, 0, 0);
        var r = Simulator.Run(Edge(2, 0.004, 0, cost, cores: 1));
        Assert.Equal(2.0, r.MeanBatch, 9);
        Assert.Equal(6 / 0.016, r.TokensPerSecond, 6);
        // With a device per edge the drafts overlap: 4 + 8 ms per round.
        var own = Simulator.Run(Edge(2, 0.004, 0, cost));
        Assert.Equal(6 / 0.012, own.TokensPerSecond, 6);
    }

    [Fact]
    public void Prefill_IsPartOfTimeToFirstToken_NotOfItl()
    {
        var cost = new LinearVerifyCost(0, 0, 0.001, 0);   // 1 ms per token fed: prefill of 20 tokens = 20 ms, a 5-token tree 5 ms
        var config = Edge(1, 0.002, 0.010, cost) with { IncludePrefill = true, PromptTokens = 20, TreeTokens = 5, RepliesPerSession = 1 };
        var r = Simulator.Run(config);
        // TTFT: uplink 5 + prefill 20 + downlink 5 + draft 2 + uplink 5 + verify 5 + downlink 5 = 47 ms.
        Assert.Equal(47, r.TtftP50Ms, 6);
        Assert.Equal((0.002 + 0.010 + 0.005) / 3 * 1000, r.ItlMeanMs, 6);
    }

    [Fact]
    public void Proactive_WonBets_LeaveAQuarterOfTheDraft_AndThePreDraftHidesInTheWait()
    {
        // Draft 4 ms, RTT 10, verify 6; every bet won. First step: 4 + 10 + 6 = 20 ms. Later steps: 1 ms left to draft
        // (the 3 ms pre-draft fits in the 16 ms wait) + 16 = 17 ms. Edge time: 4 + 9 x (1 + 3) = 40 ms.
        var config = Edge(1, 0.004, 0.010, new LinearVerifyCost(0.006, 0, 0, 0)) with { RepliesPerSession = 1, ProactiveHitRate = 1 };
        var r = Simulator.Run(config);
        Assert.Equal((20 + 9 * 17) / 30.0, r.ItlMeanMs, 6);
        Assert.Equal(0.040, r.EdgeBusySeconds, 9);
        // A pre-draft longer than the wait shows: 30 ms pre-draft (fraction 7.5 of 4 ms) outlasts the 16 ms wait by 14.
        var slow = Simulator.Run(config with { PreDraftFraction = 7.5 });
        Assert.Equal((20 + 9 * (1 + 14 + 16)) / 30.0, slow.ItlMeanMs, 6);
    }

    [Fact]
    public void Config_WithoutServerDraftCost_IsRefusedWithItsName()
    {
        var config = new SimulationConfig { Placement = DraftPlacement.Server, Sessions = 1, Verify = new LinearVerifyCost(0.001, 0, 0, 0), Acceptance = ThreeTokens };
        var e = Assert.Throws<ArgumentException>(() => Simulator.Run(config));
        Assert.Contains("ServerDraft", e.Message);
    }
    [Fact]
    public void IdleFraction_OneEdge_IsTheWireShareOfAnOutstandingStep()
    {
        // A step is outstanding from the tree's send to the verdict's arrival: the round trip plus the forward; the device
        // runs only for the forward. The draft is not outstanding time (no tree is out).
        const double draft = 0.004, verify = 0.006, rtt = 0.015;
        var r = Simulator.Run(Edge(1, draft, rtt, new LinearVerifyCost(verify, 0, 0, 0)));
        Assert.Equal(rtt / (rtt + verify), r.IdleFraction, 6);
    }

    [Fact]
    public void PipelineAware_SynchronisedEdgesOnALinearCost_SplitIntoGroups_CutIdleAndRaiseThroughput()
    {
        // Eight edges that never drift apart, a cost that grows with every tree, and a turnaround (draft + round trip) of
        // two forwards of four trees: work-conserving batching verifies all eight together forever and idles through every
        // turnaround; the verifier's planner splits them so that one group is verified while the others are away.
        var cost = new LinearVerifyCost(0.002, 0.005, 0, 0);
        double turnaround = 2 * cost.Seconds(Enumerable.Repeat(new VerifyItem(33, 0), 4).ToList());
        var config = Edge(8, turnaround - 0.015, 0.015, cost) with { ReplyTokens = 300, RepliesPerSession = 1 };
        var workConserving = Simulator.Run(config);
        var pipelineAware = Simulator.Run(config with { Policy = BatchPolicy.PipelineAware });

        Assert.Equal(8.0, workConserving.MeanBatch, 9);
        Assert.Equal(0.015 / (0.015 + cost.Seconds(Enumerable.Repeat(new VerifyItem(33, 0), 8).ToList())), workConserving.IdleFraction, 3);
        string seen = $"pipeline-aware: mean batch {pipelineAware.MeanBatch:F2}, idle {pipelineAware.IdleFraction:P1} (work-conserving {workConserving.IdleFraction:P1}), " +
            $"{pipelineAware.TokensPerSecond:F0} vs {workConserving.TokensPerSecond:F0} tokens/s";
        Assert.True(pipelineAware.MeanBatch < 4, seen);
        Assert.True(pipelineAware.IdleFraction < 0.75 * workConserving.IdleFraction, seen);
        Assert.True(pipelineAware.TokensPerSecond > 1.2 * workConserving.TokensPerSecond, seen);
    }

    [Fact]
    public void PipelineAware_JitteryEdges_GainNothing_WorkConservingAlreadyInterleavesThem()
    {
        // The same setting with draft and round trip spread ±30 %: the edges drift apart, work-conserving batches fragment
        // on their own, and the planner's cap has nothing left to recover (what the real runs on this machine show).
        var cost = new LinearVerifyCost(0.002, 0.005, 0, 0);
        double turnaround = 2 * cost.Seconds(Enumerable.Repeat(new VerifyItem(33, 0), 4).ToList());
        var config = Edge(8, turnaround - 0.015, 0.015, cost) with
        {
            ReplyTokens = 300, RepliesPerSession = 1,
            EdgeDraft = new[] { DurationDistribution.Spread(turnaround - 0.015, 0.3, "draft") }, RoundTrip = DurationDistribution.Spread(0.015, 0.3, "round trip"),
        };
        var workConserving = Simulator.Run(config);
        var pipelineAware = Simulator.Run(config with { Policy = BatchPolicy.PipelineAware });

        Assert.True(workConserving.MeanBatch < 6, $"mean batch {workConserving.MeanBatch}");
        Assert.InRange(pipelineAware.TokensPerSecond / workConserving.TokensPerSecond, 0.95, 1.05);
    }
}
