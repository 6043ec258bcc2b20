using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The pipeline planner driven with hand-made figures: no model, no cluster.</summary>
[Trait("Kind", "unit")]
public class PipelineBatchPlannerTests
{
    private static readonly DateTime T0 = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    /// <summary>A planner that has seen <paramref name="sessions"/> edges come back after <paramref name="turnaroundMs"/>, with forwards costing fixed + perItem · n ms.</summary>
    private static PipelineBatchPlanner Trained(int sessions, double turnaroundMs, double fixedMs, double perItemMs)
    {
        var planner = new PipelineBatchPlanner();
        foreach (int n in new[] { 1, 2, 4, 8, 3, 6 }) planner.OnForward(n, fixedMs + perItemMs * n);
        for (int s = 0; s < sessions; s++)
        {
            planner.OnVerdict($"s{s}", T0, finished: false);
            planner.OnTreeQueued($"s{s}", T0.AddMilliseconds(turnaroundMs));
            planner.OnVerdict($"s{s}", T0.AddMilliseconds(turnaroundMs + 1), finished: false);
        }
        return planner;
    }

    [Fact]
    public void FastEdges_KeepWorkConservingBatches()
    {
        // Edges back almost at once: splitting would only make each group wait for the other's forward.
        var planner = Trained(8, turnaroundMs: 1, fixedMs: 5, perItemMs: 4);
        Assert.Equal(1, planner.Groups(8));
        Assert.Equal(8, planner.EdgeTreeLimit(T0.AddMilliseconds(10), maxBatch: 8));
    }

    [Fact]
    public void EdgesAwayForAboutHalfTheWork_AreSplitInTwo()
    {
        // Forward of 4 = 21 ms, edge turnaround 21 ms: one batch of 8 cycles in 37 + 21 = 58 ms; two groups of 4 in 42 ms.
        var planner = Trained(8, turnaroundMs: 21, fixedMs: 5, perItemMs: 4);
        Assert.Equal(21, planner.TurnaroundMs, 3);
        Assert.Equal(21, planner.ForwardMs(4), 3);
        Assert.Equal(2, planner.Groups(8));
        Assert.Equal(4, planner.EdgeTreeLimit(T0.AddMilliseconds(30), maxBatch: 8));
    }

    [Fact]
    public void FlatForwardCost_NeverSplitsForNothing()
    {
        // A GPU-like forward whose cost does not grow with the batch: groups cannot finish the cycle sooner than one batch.
        var planner = Trained(8, turnaroundMs: 30, fixedMs: 20, perItemMs: 0);
        Assert.Equal(1, planner.Groups(8));
    }

    [Fact]
    public void FinishedAndSilentSessions_LeaveThePipeline()
    {
        var planner = Trained(8, turnaroundMs: 21, fixedMs: 5, perItemMs: 4);
        for (int s = 0; s < 6; s++) planner.OnVerdict($"s{s}", T0.AddMilliseconds(40), finished: true);
        Assert.Equal(2, planner.ActiveSessions(T0.AddMilliseconds(50)));
        Assert.Equal(0, planner.ActiveSessions(T0.AddSeconds(10)));   // gone quiet for many turnarounds
        Assert.Equal(1, planner.Groups(0));
    }

    [Fact]
    public void ASlowEdge_KeepsItsTurnaroundToItself()
    {
        // Five edges back in 10 ms, one (slow, or hostile) in 3 s, several times over.
        var planner = new PipelineBatchPlanner();
        for (int round = 0; round < 5; round++)
        {
            var at = T0.AddSeconds(10 * round);
            for (int s = 0; s < 6; s++)
            {
                planner.OnVerdict($"s{s}", at, finished: false);
                planner.OnTreeQueued($"s{s}", at.AddMilliseconds(s == 5 ? 3000 : 10));
            }
        }
        Assert.Equal(10, planner.TurnaroundOf("s0"), 3);
        Assert.Equal(3000, planner.TurnaroundOf("s5"), 3);
        Assert.Equal(10, planner.TurnaroundMs, 3);        // the median: one slow edge does not move what the device plans by
        Assert.Equal(10, planner.TurnaroundOf("new"), 3); // an edge not measured yet is taken to be typical
        // A finished reply leaves the pipeline but its edge stays known; a session the device forgets does not.
        planner.OnVerdict("s5", T0.AddMinutes(1), finished: true);
        Assert.Equal(3000, planner.TurnaroundOf("s5"), 3);
        planner.Forget("s5");
        Assert.Equal(10, planner.TurnaroundOf("s5"), 3);
    }

    [Fact]
    public void AHandBackRun_IsNotPartOfTheEdgesTurnaround()
    {
        // The edge's tree got its verdict, then the server decoded a run of steps for 400 ms, then the run's verdict
        // went out and the edge's next tree came 10 ms later: the edge took 10 ms, not 410.
        var planner = new PipelineBatchPlanner();
        planner.OnVerdict("a", T0, finished: false);
        for (int step = 1; step <= 40; step++) planner.OnServerStep("a", T0.AddMilliseconds(10 * step));
        planner.OnTreeQueued("a", T0.AddMilliseconds(410));
        Assert.Equal(10, planner.TurnaroundOf("a"), 3);
        // A session without an edge (a backend's, decoded by the server alone) gets no turnaround from its steps.
        planner.OnServerStep("backend", T0.AddMilliseconds(415));
        Assert.Equal(1, planner.ActiveSessions(T0.AddMilliseconds(420)));
    }

    [Fact]
    public void UnknownTurnaround_MeansNoSplit()
    {
        var planner = new PipelineBatchPlanner();
        planner.OnForward(4, 20);
        planner.OnVerdict("a", T0, false);
        planner.OnVerdict("b", T0, false);
        Assert.True(double.IsNaN(planner.TurnaroundMs));
        Assert.Equal(8, planner.EdgeTreeLimit(T0, maxBatch: 8));
    }

    [Fact]
    public void ForwardsOfOneSizeOnly_ProbeASplit_ThenFollowTheLearntCost()
    {
        // Edges that always arrive together give forwards of 8 only: the cost line has no slope to judge a split by.
        var planner = new PipelineBatchPlanner();
        for (int i = 0; i < 10; i++) planner.OnForward(8, 37);
        for (int s = 0; s < 8; s++)
        {
            planner.OnVerdict($"s{s}", T0, finished: false);
            planner.OnTreeQueued($"s{s}", T0.AddMilliseconds(21));
        }
        Assert.False(planner.CostSlopeKnown);
        Assert.Equal(4, planner.EdgeTreeLimit(T0.AddMilliseconds(30), maxBatch: 8));

        // The probe on a CPU-like device: 4 trees cost 21 ms of the 8's 37, so two groups of 4 beat one batch of 8.
        planner.OnForward(4, 21);
        Assert.True(planner.CostSlopeKnown);
        Assert.Equal(4, planner.EdgeTreeLimit(T0.AddMilliseconds(30), maxBatch: 8));

        // The same probe on a GPU-like device (4 trees cost what 8 do): back to one batch.
        var flat = new PipelineBatchPlanner();
        for (int i = 0; i < 10; i++) flat.OnForward(8, 37);
        flat.OnForward(4, 37);
        for (int s = 0; s < 8; s++)
        {
            flat.OnVerdict($"s{s}", T0, finished: false);
            flat.OnTreeQueued($"s{s}", T0.AddMilliseconds(21));
        }
        Assert.Equal(8, flat.EdgeTreeLimit(T0.AddMilliseconds(30), maxBatch: 8));
    }
}
