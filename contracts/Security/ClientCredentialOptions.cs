namespace SpecEdge.Contracts.Security;

/// <summary>
/// The credential a client presents (configuration section <c>Credential</c>): a token file, re-read when it changes
/// so a short-lived credential can be renewed under a running client, or the token itself (tests, in-process hosts).
/// </summary>
public sealed class ClientCredentialOptions
{
    public const string Section = "Credential";

    /// <summary>File holding the credential (re-read when it changes, so a renewed credential needs no restart).</summary>
    public string? TokenFile { get; set; }
    /// <summary>The credential itself, inline (tests and tools; prefer <c>TokenFile</c>).</summary>
    public string? Token { get; set; }

    /// <summary>The credential as configured now: the file's content (trimmed) when a file is named, else the inline token.</summary>
    public string? ReadToken() => TokenFile is { Length: > 0 } file ? File.ReadAllText(file).Trim() : Token;
}
