namespace SpecEdge.Contracts.Security;

/// <summary>
/// A call refused at the silo before any grain code ran. The message describes the caller's own credential or the
/// kind of call refused, never another conversation, edge or silo.
/// </summary>
[GenerateSerializer, Alias("specedge.AccessDeniedException")]
public sealed class AccessDeniedException : UnauthorizedAccessException
{
    public AccessDeniedException() { }
    public AccessDeniedException(string message) : base("Access denied: " + message) { }
}
