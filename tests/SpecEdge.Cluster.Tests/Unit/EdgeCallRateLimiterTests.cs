using Microsoft.Extensions.Options;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The per-edge token bucket with a hand-driven clock: no cluster, no threads, no timing luck.</summary>
[Trait("Kind", "unit")]
public class EdgeCallRateLimiterTests
{
    /// <summary>Returns the timestamps it is given, one per read, then the last one for ever.</summary>
    private sealed class ScriptedClock(IEnumerable<long> timestamps) : TimeProvider
    {
        private readonly IEnumerator<long> _next = timestamps.GetEnumerator();
        private long _last;
        public override long TimestampFrequency => 1_000_000_000;
        public override long GetTimestamp() => _next.MoveNext() ? _last = _next.Current : _last;
    }

    private static EdgeCallRateLimiter Limiter(double rate, TimeProvider clock) =>
        new(Options.Create(new SecurityOptions { MaxEdgeCallsPerSecond = rate }), clock);

    private static readonly AccessCredential Edge = new() { ConversationId = "c", EdgeId = "e" };

    [Fact]
    public void AFreshEdge_GetsItsWholeBurst_EvenWhenCallsSeeTheClockOutOfOrder()
    {
        // Concurrent calls read the clock before they take the bucket's lock, so a call may arrive with an earlier time
        // than the call before it. Simulated here: every read is one tick earlier than the last. A backwards refill must not
        // eat into the burst (with the timestamp read outside the lock, the 1000th call was refused: the flood test's 999).
        var limiter = Limiter(500, new ScriptedClock(Enumerable.Range(0, 10_000).Select(i => 1_000_000_000L - i)));
        int served = Enumerable.Range(0, 1000).Count(_ => limiter.TryTake(Edge));
        Assert.Equal(1000, served);
        Assert.False(limiter.TryTake(Edge));
    }

    [Fact]
    public void AnEmptyBucket_RefillsAtTheRate_UpToTheBurst()
    {
        long now = 0;
        var clock = new ScriptedClock(Enumerable.Repeat(0L, 1).Concat(Enumerable.Range(1, 100_000).Select(_ => now)));
        var limiter = Limiter(10, clock);
        Assert.Equal(20, Enumerable.Range(0, 50).Count(_ => limiter.TryTake(Edge)));   // burst: twice the rate
        now = 500_000_000;                                                            // half a second: 5 calls
        Assert.Equal(5, Enumerable.Range(0, 50).Count(_ => limiter.TryTake(Edge)));
        now = 100_000_000_000;                                                        // a long pause: full again, not more
        Assert.Equal(20, Enumerable.Range(0, 50).Count(_ => limiter.TryTake(Edge)));
    }
}
