namespace SpecEdge.Contracts.Security;

/// <summary>
/// An edge id names an edge in logs and snapshots; it is never a key or a path. The one rule for it, checked wherever
/// one enters (the credential issuer, the HTTP enrolment): 1 to <see cref="MaxLength"/> printable ASCII characters.
/// </summary>
public static class EdgeIds
{
    public const int MaxLength = 128;

    /// <summary>Why <paramref name="edgeId"/> is not an edge id, or null when it is.</summary>
    public static string? Problem(string? edgeId) =>
        string.IsNullOrEmpty(edgeId) || edgeId.Length > MaxLength || edgeId.Any(c => c is < '!' or > '~')
            ? $"The edge id must be 1 to {MaxLength} printable ASCII characters without spaces." : null;
}
