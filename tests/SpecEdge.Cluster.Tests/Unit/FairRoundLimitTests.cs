using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// What a forward may cost while a light tenant shares the device with a heavy one (<see cref="FairRoundLimit"/>), as
/// plain data: about one equal round on a device where every sequence costs (CPU-like forward costs), nearly the whole
/// queue where sequences are almost free (GPU-like ones), no limit where demands are equal or one tenant is alone, and
/// sizes whose cost is unknown found in a few forwards.
/// </summary>
[Trait("Kind", "unit")]
public class FairRoundLimitTests
{
    private DateTime _now = new(2026, 12, 7, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>A CPU's shape: a forward's fixed part is about two sequences' worth.</summary>
    private static readonly ForwardCostModel.Line Cpu = new(FixedMs: 0.6, PerSequenceMs: 0, PerTokenMs: 0.3, MaskedMs: 0.4);
    /// <summary>A GPU below its compute knee: the forward's fixed part dominates.</summary>
    private static readonly ForwardCostModel.Line Gpu = new(FixedMs: 12, PerSequenceMs: 0, PerTokenMs: 0.01, MaskedMs: 0.5);

    private static double Plain(ForwardCostModel.Line line, int n) => line.Predict(n, n, masked: false, padded: n);

    private FairRoundLimit Limit(double stretch, int quiet, int flood, ForwardCostModel.Line? device = null, int sizes = 0)
    {
        var limit = new FairRoundLimit(stretch, () => _now);
        // What plain forwards of 1..sizes sequences took on this device.
        for (int n = 1; n <= sizes; n++) limit.Observe(new ForwardShape(n, n, false), Plain(device!.Value, n));
        for (int i = 0; i < quiet; i++) limit.Stepped($"quiet/{i}");
        for (int i = 0; i < flood; i++) limit.Stepped($"flood/{i}");
        return limit;
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(1.25)]
    [InlineData(2.0)]
    public void OnACpu_AForwardBesideALightTenant_CostsAtMostStretchTimesOneRound(double stretch)
    {
        var limit = Limit(stretch, quiet: 1, flood: 40, Cpu, sizes: 40);
        int max = limit.MaxSteps(_ => 1)!.Value;
        // One round is the quiet tenant's step and one of the flood's: never fewer, and no more than the budget allows.
        Assert.True(max >= 2, $"limit {max}");
        Assert.True(Plain(Cpu, max) <= stretch * Plain(Cpu, 2) + 1e-9, $"{max} steps cost {Plain(Cpu, max):F2} ms > {stretch} x {Plain(Cpu, 2):F2}");
        if (max > 2) Assert.True(Plain(Cpu, max + 1) > stretch * Plain(Cpu, 2), $"{max + 1} steps would still fit");
        Assert.True(max < 40, "the flood is not let in whole");
    }

    [Fact]
    public void OnAGpuBelowItsKnee_TheWholeQueueFits()
    {
        var limit = Limit(1.25, quiet: 1, flood: 64, Gpu, sizes: 65);
        Assert.True(limit.MaxSteps(_ => 1) >= 65);
    }

    [Fact]
    public void EqualDemands_OrOneTenantAlone_AreNotLimited()
    {
        Assert.Null(Limit(1.25, quiet: 6, flood: 6, Cpu, sizes: 12).MaxSteps(_ => 1));
        Assert.Null(Limit(1.25, quiet: 0, flood: 64, Cpu, sizes: 12).MaxSteps(_ => 1));
        // Off.
        Assert.Null(Limit(0, quiet: 1, flood: 64, Cpu, sizes: 12).MaxSteps(_ => 1));
    }

    [Fact]
    public void ALightTenantThatStopsStepping_LiftsTheLimitAfterAWhile()
    {
        var limit = Limit(1.25, quiet: 1, flood: 20, Cpu, sizes: 20);
        Assert.NotNull(limit.MaxSteps(_ => 1));
        _now += FairRoundLimit.ActiveFor / 2;
        for (int i = 0; i < 20; i++) limit.Stepped($"flood/{i}");     // the flood keeps stepping, the quiet reply ended
        Assert.NotNull(limit.MaxSteps(_ => 1));
        _now += FairRoundLimit.ActiveFor / 2 + TimeSpan.FromMilliseconds(1);
        Assert.Null(limit.MaxSteps(_ => 1));
    }

    [Fact]
    public void UntilARoundsCostIsKnown_AForwardTakesOneRound_WeightedByTenant()
    {
        Assert.Equal(2, Limit(1.25, quiet: 1, flood: 30).MaxSteps(_ => 1));
        // Two quiet replies: the round is two of each tenant's.
        Assert.Equal(4, Limit(1.25, quiet: 2, flood: 30).MaxSteps(_ => 1));
        // A tenant of weight 3 takes three slots of a round.
        Assert.Equal(4, Limit(1.25, quiet: 1, flood: 30).MaxSteps(t => t == "flood" ? 3 : 1));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void SizesOfUnknownCost_AreTriedAFewTimes_UntilTheLimitSettlesWhereTheBudgetEnds(bool gpu)
    {
        var device = gpu ? Gpu : Cpu;
        var limit = Limit(1.25, quiet: 1, flood: 200);
        var tried = new List<int>();
        for (int forward = 0; forward < 24; forward++)
        {
            int n = Math.Min(200, limit.MaxSteps(_ => 1)!.Value);     // the queue holds 201 steps
            tried.Add(n);
            limit.Observe(new ForwardShape(n, n, false), Plain(device, n));
            limit.Stepped("quiet/0");
        }
        int settled = tried[^1];
        Assert.True(tried.Skip(tried.Count - 8).All(n => n == settled), $"tried {string.Join(", ", tried)}");
        double budget = 1.25 * Plain(device, 2);
        Assert.True(Plain(device, settled) <= budget, $"settled on {settled}");
        Assert.True(settled == 200 || Plain(device, settled + 1) > budget, $"settled on {settled}, and {settled + 1} fits too");
        // Forwards over the budget were only tries: a few at most.
        Assert.True(tried.Count(n => Plain(device, n) > budget) <= 4, $"tried {string.Join(", ", tried)}");
    }

    [Fact]
    public void AForwardSizesCost_IsMeasuredAgain_AfterAWhile()
    {
        var limit = Limit(1.25, quiet: 1, flood: 30, Cpu, sizes: 30);
        // A noisy sample makes three steps look dear; the limit then stays at what was cheap.
        limit.Observe(new ForwardShape(3, 3, false), 50);
        for (int i = 0; i < 5; i++) limit.Observe(new ForwardShape(3, 3, false), 50);
        Assert.Equal(2, limit.MaxSteps(_ => 1));
        // Long after, sizes not seen since are forgotten, and tried again.
        _now += FairRoundLimit.CostsKeptFor + TimeSpan.FromSeconds(1);
        limit.Stepped("quiet/0");
        limit.Stepped("flood/0");
        limit.Stepped("flood/1");
        Assert.Equal(2, limit.MaxSteps(_ => 1));          // the round's own cost is unknown again: the round alone
        limit.Observe(new ForwardShape(2, 2, false), Plain(Cpu, 2));
        Assert.True(limit.MaxSteps(_ => 1) > 2);           // and then larger sizes are tried again
    }

    [Fact]
    public void TheScheduler_BuildsForwardsWithinTheLimit_WithTheLightTenantInThem()
    {
        var scheduler = new VerifierScheduler(new VerifierScheduler.Limits(MaxBatch: 16, MaxQueuedSteps: 64, TimeSpan.FromSeconds(10),
            BatchingPolicy.WorkConserving, KvBudgetBytes: 1000, FairForwardStretch: 1.25), () => _now);
        // What plain forwards of 1 to 16 steps cost on this device (a CPU's shape).
        for (int n = 1; n <= 16; n++) scheduler.ForwardEnded(n, Plain(Cpu, n), new ForwardShape(n, n, false), Plain(Cpu, n));
        var quiet = Sequence();
        for (int i = 0; i < 30; i++) scheduler.Enqueue($"flood/{i}", new DecodeWork(Sequence()), serverDrafted: false, fromEdge: false);
        scheduler.Enqueue("quiet/one", new DecodeWork(quiet), serverDrafted: false, fromEdge: false);
        var first = scheduler.NextForward()!.Batch;
        Assert.Contains(first, s => s.SessionId == "quiet/one");
        Assert.Equal(scheduler.LastRoundLimit, first.Count);
        Assert.InRange(first.Count, 2, 3);     // 1.25 x a round of two, at 0.6 ms + 0.3 ms a step: three steps
        scheduler.ForwardEnded(first.Count, Plain(Cpu, first.Count), new ForwardShape(first.Count, first.Count, false), Plain(Cpu, first.Count));
        // The quiet reply steps again: the next forward is as small, and holds it again.
        scheduler.Enqueue("quiet/one", new DecodeWork(quiet), serverDrafted: false, fromEdge: false);
        var second = scheduler.NextForward()!.Batch;
        Assert.Contains(second, s => s.SessionId == "quiet/one");
        Assert.Equal(first.Count, second.Count);

        // Without fair shares the limit is off: a forward takes up to MaxBatch.
        var fifo = new VerifierScheduler(new VerifierScheduler.Limits(16, 64, TimeSpan.FromSeconds(10), BatchingPolicy.WorkConserving, 1000,
            FairShares: false, FairForwardStretch: 1.25), () => _now);
        for (int i = 0; i < 30; i++) fifo.Enqueue($"flood/{i}", new DecodeWork(Sequence()), false, false);
        fifo.Enqueue("quiet/one", new DecodeWork(Sequence()), false, false);
        Assert.Equal(16, fifo.NextForward()!.Batch.Count);
    }

    private static TargetSequence Sequence() => new(null!, new[] { 1 }, 1, new SamplingParams(0, 0, 1, 7), new StopCriteria(Array.Empty<int>(), 8));
}
