namespace SpecEdge.Grains.Verification;

/// <summary>
/// The verifier is at capacity (KV budget full of busy conversations, or its queue full): the request was refused
/// before any work, and may be retried later. The message names no other session or silo.
/// </summary>
[GenerateSerializer, Alias("specedge.VerifierBusyException")]
public sealed class VerifierBusyException : InvalidOperationException
{
    public VerifierBusyException() { }
    public VerifierBusyException(string message) : base(message) { }
}
