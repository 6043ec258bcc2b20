namespace SpecEdge.Grains.Sessions;

/// <summary>
/// Replies in progress per tenant (key: the tenant of the verified caller), so that one tenant's callers cannot fill
/// the devices with conversations. Silo-internal: only session grains call it.
/// </summary>
[Alias("specedge.ITenantQuotaGrain")]
public interface ITenantQuotaGrain : IGrainWithStringKey
{
    /// <summary>Claims a slot for <paramref name="sessionId"/> (idempotent); false when the tenant already has <paramref name="limit"/>.</summary>
    [Alias("TryStartAsync")]
    Task<bool> TryStartAsync(string sessionId, int limit);

    /// <summary>Frees the session's slot (its reply ended).</summary>
    [Alias("EndAsync")]
    Task EndAsync(string sessionId);
}
