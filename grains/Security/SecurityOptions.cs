namespace SpecEdge.Grains.Security;

/// <summary>
/// Credential checking on a silo (configuration section <c>Security</c>). Keys come from <see cref="KeyFile"/> (or
/// inline <see cref="Keys"/> in configuration, e.g. environment variables), never from a command line.
/// </summary>
public sealed class SecurityOptions
{
    public const string Section = "Security";

    /// <summary>JSON file <c>{"activeKeyId": "k1", "keys": {"k1": "base64"}}</c>; see SigningKeySet.</summary>
    public string? KeyFile { get; set; }
    /// <summary>Inline keys (key id -> base64), when no file is given.</summary>
    public Dictionary<string, string> Keys { get; set; } = new();
    /// <summary>Which key of <c>Keys</c> signs new credentials; the others still verify (key rotation).</summary>
    public string? ActiveKeyId { get; set; }
    /// <summary>Longest lifetime of an edge credential issued through ICredentialIssuerGrain.</summary>
    public TimeSpan MaxEdgeLifetime { get; set; } = TimeSpan.FromHours(12);
    /// <summary>Verified tokens remembered, so that a step costs a lookup rather than an HMAC and a JSON parse.</summary>
    public int VerifiedCacheSize { get; set; } = 10_000;
    /// <summary>
    /// Calls one edge may make per second on one silo (bursts of twice that); more are refused before any grain code.
    /// An honest edge makes about one call per decoding step. 0 = no limit.
    /// </summary>
    public double MaxEdgeCallsPerSecond { get; set; } = 500;

    /// <summary>
    /// Largest message body a silo accepts on any connection (Orleans' default is 100 MB, read before any check). 8 MiB
    /// holds a 128k-token conversation's snapshot several times over.
    /// </summary>
    public int MaxMessageBodyBytes { get; set; } = 8 << 20;
    /// <summary>Largest message header (request context: the credential, trace ids); Orleans' default is 10 MB.</summary>
    public int MaxMessageHeaderBytes { get; set; } = 64 << 10;
}
