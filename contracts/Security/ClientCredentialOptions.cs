namespace SpecEdge.Contracts.Security;

/// <summary>
/// The credential a client presents (configuration section <c>Credential</c>): a token file, re-read when it changes
/// so a short-lived credential can be renewed under a running client, or the token itself (tests, in-process hosts).
/// </summary>
public sealed class ClientCredentialOptions
{
    public const string Section = "Credential";

    public string? TokenFile { get; set; }
    public string? Token { get; set; }
}
