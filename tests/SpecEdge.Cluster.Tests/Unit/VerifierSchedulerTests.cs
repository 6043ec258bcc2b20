using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The verifier's scheduling rules as plain data, without a device or a cluster: one step per sequence, a bounded
/// queue, deadlines, batches in arrival order up to MaxBatch, and eviction that never touches a queued, running or
/// mid-reply cache.
/// </summary>
[Trait("Kind", "unit")]
public class VerifierSchedulerTests
{
    private DateTime _now = new(2026, 12, 6, 0, 0, 0, DateTimeKind.Utc);

    private VerifierScheduler Scheduler(int maxBatch = 4, int maxQueued = 16, long budget = 1000, bool fair = true, Dictionary<string, int>? weights = null) =>
        new(new VerifierScheduler.Limits(maxBatch, maxQueued, TimeSpan.FromSeconds(10), BatchingPolicy.WorkConserving, budget, fair, weights), () => _now);

    /// <summary>A sequence object the scheduler can tell apart from others; it never touches its cache.</summary>
    private static TargetSequence Sequence() => new(null!, new[] { 1 }, 1, new SamplingParams(0, 0, 1, 7), new StopCriteria(Array.Empty<int>(), 8));

    [Fact]
    public void AnIdleDevice_PricesTreesByTheEdgesWholeStep_ASaturatedOneByItsOwnTime()
    {
        var s = Scheduler(maxBatch: 0);
        var a = Sequence();
        int forwards = 0;
        double Wait(double gapMs, double forwardMs)
        {
            s.Enqueue("t/a", new DecodeWork(a), serverDrafted: false, fromEdge: true);
            var plan = s.NextForward()!;
            _now = _now.AddMilliseconds(forwardMs);
            // Forwards of a few sizes, so that the cost line is known and the rule carries its wait.
            int tokens = 1 + forwards++ % 3 * 4;
            s.ForwardEnded(1, forwardMs, new ForwardShape(1, tokens, tokens > 1, tokens), forwardMs);
            s.EdgeVerdict("t/a", finished: false);
            _now = _now.AddMilliseconds(gapMs);      // the edge's turnaround: the device idles meanwhile
            return plan.Trim.WaitMs;
        }
        // An edge that takes 20 ms to come back to a device whose forwards take 5 ms: mostly idle, nodes priced by the step.
        double idle = 0;
        for (int i = 0; i < 60; i++) idle = Wait(gapMs: 20, forwardMs: 5);
        Assert.Equal(0.8, s.IdleShare, 1);
        // Back to back (a saturated device): the share falls, and with it the wait nodes are priced against.
        double busy = 0;
        for (int i = 0; i < 60; i++) busy = Wait(gapMs: 0, forwardMs: 5);
        Assert.True(s.IdleShare < 0.05, $"idle share {s.IdleShare:F2}");
        Assert.True(busy < idle, $"wait {busy:F1} ms when saturated, {idle:F1} ms when idle");
    }

    [Fact]
    public void EachEdgeTree_IsPricedWithItsOwnEdgesTurnaround_AndAHandBackRunIsNotPartOfIt()
    {
        var s = Scheduler(maxBatch: 0);
        TargetSequence fast = Sequence(), slow = Sequence();
        void Forward(double ms)
        {
            var plan = s.NextForward()!;
            _now = _now.AddMilliseconds(ms);
            s.ForwardEnded(plan.Batch.Count, ms);
            foreach (var step in plan.Batch)
                if (step.FromEdge) s.EdgeVerdict(step.SessionId, finished: false); else s.ServerStepDone(step.SessionId);
        }
        s.Enqueue("t/fast", new DecodeWork(fast), serverDrafted: false, fromEdge: true);
        s.Enqueue("u/slow", new DecodeWork(slow), serverDrafted: false, fromEdge: true);
        Forward(5);
        // The fast session is handed back: the server decodes 30 steps of it (300 ms) while the slow edge drafts.
        for (int i = 0; i < 30; i++)
        {
            s.Enqueue("t/fast", new DecodeWork(fast), serverDrafted: false, fromEdge: false);
            Forward(10);
        }
        _now = _now.AddMilliseconds(8);
        s.Enqueue("t/fast", new DecodeWork(fast), serverDrafted: false, fromEdge: true);    // 8 ms after the run's verdict
        _now = _now.AddMilliseconds(100);
        s.Enqueue("u/slow", new DecodeWork(slow), serverDrafted: false, fromEdge: true);    // 408 ms after its verdict
        var trim = s.NextForward()!.Trim;
        Assert.Equal(8, trim.Turnarounds!["t/fast"], 3);
        Assert.Equal(408, trim.Turnarounds!["u/slow"], 3);
        Assert.Equal(208, s.TurnaroundOf("nobody"), 3);    // an edge not yet measured: the median of those that are
    }

    [Fact]
    public void OneStepPerSequence_AndABoundedQueue()
    {
        var s = Scheduler(maxQueued: 2);
        var a = Sequence();
        s.Enqueue("t/a", new PrefillWork(a), serverDrafted: false, fromEdge: false);
        Assert.Throws<InvalidOperationException>(() => s.Enqueue("t/a", new DecodeWork(a), false, false));
        s.Enqueue("t/b", new PrefillWork(Sequence()), false, false);
        var full = Assert.Throws<VerifierBusyException>(() => s.Enqueue("t/c", new PrefillWork(Sequence()), false, false));
        Assert.Contains("2 steps waiting", full.Message);
    }

    [Fact]
    public void AForwardTakesUpToMaxBatch_InArrivalOrder_AndTheRestWaitsForTheNext()
    {
        var s = Scheduler(maxBatch: 2);
        foreach (var id in new[] { "t/1", "t/2", "t/3" }) s.Enqueue(id, new PrefillWork(Sequence()), false, fromEdge: true);
        var first = s.NextForward()!;
        Assert.Equal(new[] { "t/1", "t/2" }, first.Batch.Select(x => x.SessionId));
        Assert.Empty(first.Expired);
        s.ForwardEnded(2, 5);
        Assert.Equal(new[] { "t/3" }, s.NextForward()!.Batch.Select(x => x.SessionId));
        s.ForwardEnded(1, 5);
        Assert.Null(s.NextForward());
    }

    [Fact]
    public void WithFairShares_ATenantWithOneStep_GetsIntoTheNextForward_HoweverManyAnotherHasQueued()
    {
        foreach (bool fair in new[] { true, false })
        {
            var s = Scheduler(maxBatch: 4, fair: fair);
            for (int i = 0; i < 10; i++) s.Enqueue($"flood/{i}", new PrefillWork(Sequence()), false, fromEdge: false);
            s.Enqueue("quiet/one", new PrefillWork(Sequence()), false, fromEdge: false);
            var batch = s.NextForward()!.Batch.Select(x => x.SessionId).ToList();
            Assert.Equal(4, batch.Count);
            if (fair)
            {
                Assert.Contains("quiet/one", batch);
                // The flooding tenant's own steps still go in arrival order.
                Assert.Equal(new[] { "flood/0", "flood/1", "flood/2" }, batch.Where(id => id.StartsWith("flood/")));
            }
            else Assert.Equal(new[] { "flood/0", "flood/1", "flood/2", "flood/3" }, batch);   // arrival order: the quiet tenant waits
        }
    }

    [Fact]
    public void TenantWeights_GiveSlotsPerRound_AndTheLeadRotatesBetweenForwards()
    {
        var s = Scheduler(maxBatch: 4, weights: new() { ["gold"] = 3 });
        for (int i = 0; i < 8; i++)
        {
            s.Enqueue($"gold/{i}", new PrefillWork(Sequence()), false, false);
            s.Enqueue($"basic/{i}", new PrefillWork(Sequence()), false, false);
        }
        var first = s.NextForward()!.Batch.Select(x => x.SessionId).ToList();
        Assert.Equal(3, first.Count(id => id.StartsWith("gold/")));
        Assert.Equal(1, first.Count(id => id.StartsWith("basic/")));
        s.ForwardEnded(4, 1);
        // The next forward starts with the other tenant: with one slot left after gold's three, basic still gets one.
        var second = s.NextForward()!.Batch.Select(x => x.SessionId).ToList();
        Assert.Equal("basic/1", second[0]);
        Assert.Equal(3, second.Count(id => id.StartsWith("gold/")));
    }

    [Fact]
    public void StepsPastTheirDeadline_LeaveTheQueueAsExpired_NotInABatch()
    {
        var s = Scheduler();
        s.Enqueue("t/old", new PrefillWork(Sequence()), false, false);
        _now += TimeSpan.FromSeconds(11);
        s.Enqueue("t/new", new PrefillWork(Sequence()), false, false);
        var plan = s.NextForward()!;
        Assert.Equal(new[] { "t/old" }, plan.Expired.Select(x => x.SessionId));
        Assert.Equal(new[] { "t/new" }, plan.Batch.Select(x => x.SessionId));
    }

    [Fact]
    public void EvictionTakesIdleFinishedCaches_LeastRecentlyUsedFirst_NeverQueuedRunningOrMidReply()
    {
        var s = Scheduler(maxBatch: 1, budget: 40);   // 10 bytes a cache: room for 4
        foreach (var id in new[] { "t/old", "t/mid", "t/running", "t/queued" }) s.Touch(id);
        s.Enqueue("t/running", new PrefillWork(Sequence()), false, false);
        s.Enqueue("t/queued", new PrefillWork(Sequence()), false, false);
        Assert.Equal("t/running", s.NextForward()!.Batch.Single().SessionId);   // in the forward now
        var residents = new[] { ("t/old", true), ("t/mid", false), ("t/running", true), ("t/queued", true) };

        // t/mid is mid-reply (not finished): only t/old may go.
        Assert.Equal(new[] { "t/old" }, s.Victims(residents, bytesPerSequence: 10));
        // Two more do not fit without touching a busy or mid-reply cache: refused at capacity.
        Assert.Throws<VerifierBusyException>(() => s.Victims(residents, bytesPerSequence: 13));
        // A reply with no step for longer than AbandonedAfter counts as abandoned: then it may go too.
        _now += VerifierScheduler.AbandonedAfter + TimeSpan.FromSeconds(1);
        Assert.Equal(new[] { "t/old", "t/mid" }, s.Victims(residents, bytesPerSequence: 13));
    }

    [Fact]
    public void IdleCachesMakeWayForThePrefixCachesReserve_RepliesInProgressNever()
    {
        var s = Scheduler(budget: 40);   // 10 bytes a cache: room for 4, or 3 beside a reserve of 10
        foreach (var id in new[] { "t/a", "t/b", "t/c", "t/d" }) s.Touch(id);
        var idle = new[] { ("t/a", true), ("t/b", true), ("t/c", true) };
        Assert.Empty(s.Victims(idle, bytesPerSequence: 10));
        Assert.Equal(new[] { "t/a" }, s.Victims(idle, bytesPerSequence: 10, reserveBytes: 10));
        // Mid-reply caches keep their place: the reserve gives way, and the budget alone decides.
        var busy = new[] { ("t/a", false), ("t/b", false), ("t/c", false) };
        Assert.Empty(s.Victims(busy, bytesPerSequence: 10, reserveBytes: 10));
        Assert.Throws<VerifierBusyException>(() => s.Victims(busy.Append(("t/d", false)).ToArray(), bytesPerSequence: 10, reserveBytes: 10));
    }

    [Fact]
    public void ForgettingASession_HandsBackItsQueuedStep_AndFreesItsSlot()
    {
        var s = Scheduler();
        var a = Sequence();
        var step = s.Enqueue("t/a", new PrefillWork(a), false, false);
        Assert.Equal(new[] { step }, s.Forget("t/a"));
        Assert.Equal(0, s.Queued);
        s.Enqueue("t/a", new PrefillWork(Sequence()), false, false);   // a re-opened sequence may queue at once
        Assert.Equal(1, s.Queued);
    }
}
