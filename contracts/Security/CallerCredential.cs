namespace SpecEdge.Contracts.Security;

/// <summary>
/// Where a credential travels (<c>RequestContext</c> key <see cref="RequestContextKey"/>) and a way for one client to
/// act under several credentials: calls made inside <see cref="Use"/> carry that token instead of the client's own
/// (a backend acting for one tenant, or a test playing an edge and a service side by side).
/// </summary>
public static class CallerCredential
{
    public const string RequestContextKey = "specedge-credential";

    private static readonly AsyncLocal<string?> Override = new();

    /// <summary>The token that calls of this async flow carry instead of the client's configured one, if any.</summary>
    public static string? Current => Override.Value;

    /// <summary>Calls in this async flow carry <paramref name="token"/>; an empty string means no credential at all.</summary>
    public static IDisposable Use(string token)
    {
        var previous = Override.Value;
        Override.Value = token;
        return new Restore(previous);
    }

    private sealed class Restore(string? previous) : IDisposable
    {
        public void Dispose() => Override.Value = previous;
    }
}
