using System.Collections.Concurrent;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace SpecEdge.OpenAi;

/// <summary>
/// Meters failing requests per remote address: each request refused as unauthenticated, forbidden or malformed (401,
/// 403, 400, 404, 413) takes a token from its address's bucket (<see cref="OpenAiOptions.MaxFailedRequestsPerSecondPerAddress"/>
/// a second, bursts of twice that). While the bucket is empty the address gets 429 with <c>Retry-After</c> before its
/// key is even looked at, so a flood of bad keys costs a dictionary lookup, not a signature check and a log line each
/// (10.7k invalid keys a second were answered before). Honest clients fail rarely and never notice the limit.
/// </summary>
public sealed class AddressFailureLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _limiter;
    /// <summary>
    /// Requests per address between <see cref="TryEnter"/> and <see cref="Leave"/> (their key not yet judged). Each may
    /// still fail, so together they may not outnumber the tokens left: otherwise a burst of concurrent bad keys would
    /// all pass the check before the first failure is charged. Entries leave at zero, so idle addresses cost nothing.
    /// </summary>
    private readonly ConcurrentDictionary<string, int> _unjudged = new();

    public AddressFailureLimiter(IOptions<OpenAiOptions> options)
    {
        FailuresPerSecond = options.Value.MaxFailedRequestsPerSecondPerAddress;
        _limiter = TokenBuckets.Create(FailuresPerSecond);
    }

    public double FailuresPerSecond { get; }

    /// <summary>Whether a status counts as a failure the address pays for (429 itself does not: it is the limit's own answer).</summary>
    public static bool Counts(int status) => status is 400 or 401 or 403 or 404 or 413;

    /// <summary>
    /// Admits a request from <paramref name="address"/> while it has failures to spare for it and for every request of
    /// that address still being judged; false (with a hint of when to retry) otherwise. An admitted request must call
    /// <see cref="Leave"/> once its key is judged, after <see cref="Failed"/> if the key was refused.
    /// </summary>
    public bool TryEnter(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_limiter is null) return true;
        string key = Key(address);
        int unjudged = _unjudged.AddOrUpdate(key, 1, (_, n) => n + 1);
        long left = _limiter.GetStatistics(key)?.CurrentAvailablePermits ?? long.MaxValue;
        if (unjudged <= left) return true;
        Leave(address);
        retryAfter = TimeSpan.FromSeconds(1);
        return false;
    }

    /// <summary>The request admitted by <see cref="TryEnter"/> has had its key judged.</summary>
    public void Leave(IPAddress? address)
    {
        if (_limiter is null) return;
        string key = Key(address);
        int n = _unjudged.AddOrUpdate(key, 0, (_, n) => n - 1);
        if (n <= 0) _unjudged.TryRemove(KeyValuePair.Create(key, n));
    }

    /// <summary>Charges one failed request to <paramref name="address"/>.</summary>
    public void Failed(IPAddress? address)
    {
        if (_limiter is null) return;
        using var _ = _limiter.AttemptAcquire(Key(address));
    }

    private static string Key(IPAddress? address) => address?.ToString() ?? "unknown";

    public void Dispose() => _limiter?.Dispose();
}
