using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// A session's reply slots in its tenant's quota (<c>SpecEdge:MaxActiveRepliesPerTenant</c>): taken under the verified
/// caller's identity before a turn starts, given back when the turn does not start or its reply ends. Services and
/// edges count against their credential's tenant (an edge without one, against its conversation's tenant); operators
/// and silos are not limited.
/// </summary>
public sealed class TurnAdmission(IGrainFactory grains, string sessionId, int limit, ILogger logger)
{
    /// <summary>Takes a slot for <paramref name="caller"/>; the tenant it was taken from, or null when none was needed.</summary>
    /// <exception cref="InvalidOperationException">The tenant has <c>limit</c> replies in progress.</exception>
    public async Task<string?> ClaimAsync(AccessCredential? caller)
    {
        if (limit <= 0 || caller is null || caller.Role is not (CredentialRole.Service or CredentialRole.Edge)) return null;
        string tenant = caller.Tenant is { Length: > 0 } t ? t : ConversationId.Parse(sessionId).Tenant;
        if (!await grains.GetGrain<ITenantQuotaGrain>(tenant).TryStartAsync(sessionId, limit))
            throw new InvalidOperationException($"Your tenant already has {limit} replies in progress (SpecEdge:MaxActiveRepliesPerTenant); send this message when one has finished.");
        return tenant;
    }

    /// <summary>Runs <paramref name="start"/> holding <paramref name="tenant"/>'s slot; gives the slot back if it throws (the turn did not start).</summary>
    public async Task<T> HoldingAsync<T>(string? tenant, Func<Task<T>> start)
    {
        try { return await start(); }
        catch
        {
            Release(tenant);
            throw;
        }
    }

    /// <summary>Gives <paramref name="tenant"/>'s slot back, without waiting; a failure is logged (the quota grain expires stale slots).</summary>
    public void Release(string? tenant)
    {
        if (tenant is null) return;
        grains.GetGrain<ITenantQuotaGrain>(tenant).EndAsync(sessionId).ContinueWith(
            t => logger.LogWarning(t.Exception, "Session {Session}: could not release its reply slot", sessionId), TaskContinuationOptions.OnlyOnFaulted);
    }
}
