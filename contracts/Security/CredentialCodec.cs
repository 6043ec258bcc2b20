using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace SpecEdge.Contracts.Security;

/// <summary>
/// Signs and checks credentials: <c>v1.BASE64URL(json claims).BASE64URL(HMAC-SHA256(key, "v1." + claims))</c>.
/// HMAC rather than signatures: only silos and the operator's issuing tools hold keys, and an HMAC check costs about a
/// microsecond, which matters on a path taken every decoding step (silos cache verified tokens anyway).
/// </summary>
public static class CredentialCodec
{
    private const string Version = "v1.";

    public static string Sign(AccessCredential credential, SigningKeySet keys)
    {
        var claims = credential with { KeyId = keys.ActiveKeyId };
        string body = Version + Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        return body + "." + Base64Url(HMACSHA256.HashData(keys.ActiveKey, Encoding.ASCII.GetBytes(body)));
    }

    /// <summary>
    /// Checks format, key, signature and expiry. The error says what is wrong with the token itself and nothing else,
    /// because it goes back to whoever presented it.
    /// </summary>
    public static bool TryVerify(string? token, SigningKeySet keys, DateTimeOffset now, out AccessCredential? credential, out string error)
    {
        credential = null;
        if (string.IsNullOrEmpty(token)) { error = "no credential was presented"; return false; }
        if (!token.StartsWith(Version, StringComparison.Ordinal)) { error = "the credential has an unknown format"; return false; }
        int dot = token.LastIndexOf('.');
        if (dot <= Version.Length) { error = "the credential has an unknown format"; return false; }
        string body = token[..dot];
        AccessCredential? claims;
        byte[] signature;
        try
        {
            claims = JsonSerializer.Deserialize<AccessCredential>(FromBase64Url(body[Version.Length..]));
            signature = FromBase64Url(token[(dot + 1)..]);
        }
        catch (Exception e) when (e is FormatException or JsonException)
        {
            error = "the credential is malformed";
            return false;
        }
        if (claims is null) { error = "the credential is malformed"; return false; }
        var key = keys.Find(claims.KeyId);
        if (key is null) { error = "the credential is signed with an unknown key"; return false; }
        var expected = HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(body));
        if (!CryptographicOperations.FixedTimeEquals(expected, signature)) { error = "the credential's signature is invalid"; return false; }
        if (claims.Expiry <= now) { error = "the credential has expired"; return false; }
        credential = claims;
        error = "";
        return true;
    }

    /// <summary>
    /// The claims of a token without checking anything: for a client to learn which conversation and edge id its own
    /// credential names. Never a basis for a decision (that is the silo's verified check).
    /// </summary>
    public static AccessCredential? ReadUnverified(string token)
    {
        var parts = token.Split('.');
        if (parts.Length != 3) return null;
        try { return JsonSerializer.Deserialize<AccessCredential>(FromBase64Url(parts[1])); }
        catch (Exception e) when (e is FormatException or JsonException) { return null; }
    }

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static byte[] FromBase64Url(string text)
    {
        string s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - s.Length % 4) % 4));
    }
}
