namespace SpecEdge.Grains.Sessions;

/// <summary>
/// In-memory slots with an age limit: a slot whose session died without ending its reply (a silo crash before the
/// session was reactivated) frees itself after <see cref="StaleAfter"/>, so a lost count can never lock a tenant out.
/// After this grain's own failover the count restarts from zero: the quota is soft for a moment, never stuck.
/// </summary>
// Explicit, so renaming the class never moves its activations or its stored state (keys include the grain type).
[GrainType("tenantquota")]
public sealed class TenantQuotaGrain(TimeProvider clock) : Grain, ITenantQuotaGrain
{
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(10);
    private readonly Dictionary<string, DateTime> _active = new();

    public Task<bool> TryStartAsync(string sessionId, int limit)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        foreach (var stale in _active.Where(kv => now - kv.Value > StaleAfter).Select(kv => kv.Key).ToList()) _active.Remove(stale);
        if (_active.ContainsKey(sessionId) || _active.Count < limit)
        {
            _active[sessionId] = now;
            return Task.FromResult(true);
        }
        return Task.FromResult(false);
    }

    public Task EndAsync(string sessionId)
    {
        _active.Remove(sessionId);
        return Task.CompletedTask;
    }
}
