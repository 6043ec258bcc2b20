namespace SpecEdge.Grains.Verification;

/// <summary>The verifier holds no sequence for the session (first contact, restart or eviction): send a snapshot.</summary>
[GenerateSerializer, Alias("specedge.SessionNotLoadedException")]
public sealed class SessionNotLoadedException : Exception
{
    public SessionNotLoadedException() { }
    public SessionNotLoadedException(string message) : base(message) { }
}
