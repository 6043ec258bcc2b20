using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// This silo's own credential (role Silo), minted with the cluster's signing key and renewed well before it expires.
/// It travels only on calls to grains and system targets, never to clients (see <see cref="SiloCredentialOutgoingFilter"/>).
/// </summary>
public sealed class SiloCredential(SigningKeys keys, TimeProvider clock)
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);
    private (string Token, DateTimeOffset RenewAt) _current;

    public string Token
    {
        get
        {
            var current = _current;
            var now = clock.GetUtcNow();
            if (current.Token is not null && now < current.RenewAt) return current.Token;
            var token = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Silo, ExpiresAt = (now + Lifetime).ToUnixTimeSeconds() }, keys.Value);
            _current = (token, now + Lifetime / 2);
            return token;
        }
    }
}
