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

    public AddressFailureLimiter(IOptions<OpenAiOptions> options)
    {
        FailuresPerSecond = options.Value.MaxFailedRequestsPerSecondPerAddress;
        _limiter = TokenBuckets.Create(FailuresPerSecond);
    }

    public double FailuresPerSecond { get; }

    /// <summary>Whether a status counts as a failure the address pays for (429 itself does not: it is the limit's own answer).</summary>
    public static bool Counts(int status) => status is 400 or 401 or 403 or 404 or 413;

    /// <summary>False (with a hint of when to retry) while <paramref name="address"/> has used up its failures; takes nothing.</summary>
    public bool IsOpen(IPAddress? address, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_limiter is null) return true;
        // Zero permits asks "are any left?" without spending one.
        using var lease = _limiter.AttemptAcquire(Key(address), 0);
        if (lease.IsAcquired) return true;
        retryAfter = TimeSpan.FromSeconds(1);
        return false;
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
