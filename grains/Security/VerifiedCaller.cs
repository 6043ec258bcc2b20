using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// The verified credential of the call being served, set by <see cref="CallAuthorizationFilter"/> around the grain
/// method (an async-local, so each interleaved call of a reentrant grain sees its own). Grains read identity here,
/// never from message fields: an edge's id is the one its credential was issued for.
/// </summary>
public static class VerifiedCaller
{
    private static readonly AsyncLocal<AccessCredential?> Value = new();

    public static AccessCredential? Current => Value.Value;

    /// <summary>True when the call came from an edge (then replies must not name silos or other edges).</summary>
    public static bool IsEdge => Value.Value?.Role == CredentialRole.Edge;

    /// <summary>The caller's own edge id if it is an edge; otherwise (a trusted service or operator) <paramref name="claimed"/>.</summary>
    public static string EdgeIdOr(string claimed) => Value.Value is { Role: CredentialRole.Edge, EdgeId: { } id } ? id : claimed;

    internal static void Set(AccessCredential? credential) => Value.Value = credential;
}
