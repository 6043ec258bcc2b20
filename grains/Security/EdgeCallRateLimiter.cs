using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// A token bucket per edge (conversation and edge id of its verified credential, so a re-issued token does not refill
/// it): an edge may make <see cref="SecurityOptions.MaxEdgeCallsPerSecond"/> calls a second on this silo, in bursts of
/// twice that. Edges are untrusted and may send at any rate; a flood is refused before any grain code runs, at the cost
/// of a dictionary lookup. Services and operators are trusted for their own load and are not limited here (a tenant's
/// work is bounded by its reply quota).
/// </summary>
public sealed class EdgeCallRateLimiter(IOptions<SecurityOptions> options, TimeProvider? time = null)
{
    private sealed class Bucket
    {
        public double Tokens;
        public long Last;
    }

    private const int PruneAbove = 10_000;
    private readonly ConcurrentDictionary<(string?, string?), Bucket> _buckets = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public double CallsPerSecond => options.Value.MaxEdgeCallsPerSecond;

    /// <summary>Takes one call from the edge's bucket; false when it is empty (the call is refused).</summary>
    public bool TryTake(AccessCredential edge)
    {
        double rate = CallsPerSecond;
        if (rate <= 0) return true;
        double burst = 2 * rate;
        long now = _time.GetTimestamp();
        double frequency = _time.TimestampFrequency;
        if (_buckets.Count > PruneAbove) Prune(now, burst / rate);
        var bucket = _buckets.GetOrAdd((edge.ConversationId, edge.EdgeId), _ => new Bucket { Tokens = burst, Last = now });
        lock (bucket)
        {
            // The time is read again under the lock: a thread holding an earlier timestamp that got the lock late would
            // otherwise refill backwards, and after a clamp at the burst that takes away a call the edge was owed.
            now = Math.Max(_time.GetTimestamp(), bucket.Last);
            bucket.Tokens = Math.Min(burst, bucket.Tokens + (now - bucket.Last) * rate / frequency);
            bucket.Last = now;
            if (bucket.Tokens < 1) return false;
            bucket.Tokens -= 1;
            return true;
        }
    }

    /// <summary>Forgets edges idle long enough for their bucket to be full again: it would start full anyway.</summary>
    private void Prune(long now, double refillSeconds)
    {
        long idle = (long)(refillSeconds * _time.TimestampFrequency);
        foreach (var (key, bucket) in _buckets)
            if (now - Volatile.Read(ref bucket.Last) > idle) _buckets.TryRemove(key, out _);
    }
}
