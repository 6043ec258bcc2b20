using System.Threading.RateLimiting;

namespace SpecEdge.OpenAi;

/// <summary>One token bucket per key (an API key's hash, a remote address): <c>perSecond</c> a second, bursts of twice that.</summary>
internal static class TokenBuckets
{
    /// <summary>The buckets, or null when <paramref name="perSecond"/> is 0 or less (no limit).</summary>
    public static PartitionedRateLimiter<string>? Create(double perSecond)
    {
        if (perSecond <= 0) return null;
        int burst = Math.Max(1, (int)Math.Ceiling(2 * perSecond));
        // Refilled ten times a second, so a caller at the limit is not made to wait a whole second after a burst.
        int perTenth = Math.Max(1, (int)Math.Round(perSecond / 10));
        var period = TimeSpan.FromSeconds(perTenth / perSecond);
        return PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ =>
            new TokenBucketRateLimiterOptions
            {
                TokenLimit = burst, TokensPerPeriod = perTenth, ReplenishmentPeriod = period, QueueLimit = 0, AutoReplenishment = true,
            }));
    }
}
