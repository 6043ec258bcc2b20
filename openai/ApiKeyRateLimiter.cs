using System.Security.Cryptography;
using System.Text;
using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace SpecEdge.OpenAi;

/// <summary>
/// A token bucket per API key: <see cref="OpenAiOptions.MaxRequestsPerSecondPerKey"/> requests a second, in bursts of
/// twice that. Checked right after the key is authenticated and before the body is read, so a flood from one key costs
/// a signature check and a bucket, never a session; other keys are not affected. Buckets are keyed on a hash of the
/// key, so the limiter holds no secrets.
/// </summary>
public sealed class ApiKeyRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string>? _limiter;

    public ApiKeyRateLimiter(IOptions<OpenAiOptions> options)
    {
        RequestsPerSecond = options.Value.MaxRequestsPerSecondPerKey;
        _limiter = TokenBuckets.Create(RequestsPerSecond);
    }

    public double RequestsPerSecond { get; }

    /// <summary>Takes one request from the key's bucket; false (with a hint of when to retry) when it is empty.</summary>
    public bool TryAcquire(OpenAiCaller caller, out TimeSpan retryAfter)
    {
        retryAfter = TimeSpan.Zero;
        if (_limiter is null) return true;
        using var lease = _limiter.AttemptAcquire(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(caller.ApiKey))));
        if (lease.IsAcquired) return true;
        retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var hint) ? hint : TimeSpan.FromSeconds(1);
        return false;
    }

    public void Dispose() => _limiter?.Dispose();
}
