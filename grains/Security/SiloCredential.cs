using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// This silo's own credential (role Silo), minted with the cluster's signing key and renewed well before it expires.
/// It travels only on calls to grains and system targets, never to clients (see <see cref="SiloCredentialOutgoingFilter"/>).
/// </summary>
public sealed class SiloCredential(SigningKeys keys, TimeProvider clock)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);
    // One reference swapped atomically: concurrent callers see a whole token, never half of an update.
    private Minted? _current;

    private sealed record Minted(string Token, DateTimeOffset RenewAt);

    public string Token
    {
        get
        {
            var current = _current;
            var now = clock.GetUtcNow();
            if (current is not null && now < current.RenewAt) return current.Token;
            var token = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Silo, ExpiresAt = (now + Lifetime).ToUnixTimeSeconds() }, keys.Value);
            _current = new Minted(token, now + Lifetime / 2);
            return token;
        }
    }
}
