using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Verifies tokens and remembers the good ones: an edge presents the same token every step, so after the first call
/// a check is a dictionary lookup and an expiry comparison. Refusals are not cached (they are rare and cheap to redo,
/// and caching them would let garbage tokens fill the cache).
/// </summary>
public sealed class VerifiedCredentials(SigningKeys keys, IOptions<SecurityOptions> options, TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, AccessCredential> _verified = new(StringComparer.Ordinal);

    public bool TryVerify(string? token, out AccessCredential? credential, out string error)
    {
        var now = clock.GetUtcNow();
        if (token is not null && _verified.TryGetValue(token, out credential))
        {
            if (credential.Expiry > now) { error = ""; return true; }
            _verified.TryRemove(token, out _);
        }
        if (!CredentialCodec.TryVerify(token, keys.Value, now, out credential, out error)) return false;
        if (MalformedClaims(credential!) is { } malformed)
        {
            // Signed, but not usable: ids in it must parse like every id from outside, or a prefix could pass for a tenant.
            credential = null;
            error = malformed;
            return false;
        }
        // Crude bound: forgetting everything now and then costs one HMAC per live token, no more.
        if (_verified.Count >= options.Value.VerifiedCacheSize) _verified.Clear();
        _verified[token!] = credential!;
        return true;
    }

    /// <summary>Why a correctly signed credential still cannot be used (a tenant or conversation id that does not parse), or null.</summary>
    private static string? MalformedClaims(AccessCredential credential)
    {
        if (credential.Tenant is not null && ConversationId.SegmentError(credential.Tenant, "tenant") is { } tenant)
            return $"the credential's {tenant[4..]}";
        if (credential.ConversationId is null) return null;
        if (!ConversationId.TryParse(credential.ConversationId, out var id, out var error))
            return $"the credential's conversation: {error}";
        if (credential.Tenant is not null && !string.Equals(id.Tenant, credential.Tenant, StringComparison.Ordinal))
            return "the credential's conversation belongs to another tenant than the credential";
        return null;
    }
}
