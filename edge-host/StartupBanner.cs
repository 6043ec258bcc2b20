using System.Reflection;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;

namespace SpecEdge.EdgeHost;

/// <summary>
/// What the edge host says about itself: <c>--version</c>, and one line at start-up naming the cluster it connects to
/// and the credential and certificate it presents, so a user sees at once whether it is talking to the right place as
/// the right edge (the credential is read, not verified: only the silo can do that).
/// </summary>
public static class StartupBanner
{
    public static string Version =>
        $"SpecEdge.EdgeHost {typeof(StartupBanner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "?"} " +
        $"(.NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.RuntimeIdentifier})";

    public static string Describe(EdgeHostOptions options, ClientCredentialOptions credential, EdgeTlsOptions tls)
    {
        string who = credential.TokenFile is { Length: > 0 } file
            ? File.Exists(file) ? DescribeCredential(file) : $"credential file {file} (MISSING: the cluster will refuse every call)"
            : credential.Token is { Length: > 0 } ? "a credential given inline"
            : "no credential (only an open development cluster accepts this)";
        string channel = tls.CertificateFile is { Length: > 0 } cert ? $"TLS with certificate {cert}" : "no TLS (development only)";
        string to = !options.UsesEdgeGateway ? $"{options.Gateways} (cluster {options.ClusterId})" : $"the edge gateway {options.EdgeGateway}";
        return $"{Version}: connecting to {to} with {who}, {channel}; draft {options.DraftModel} on {options.Device}";
    }

    private static string DescribeCredential(string file)
    {
        var token = CredentialCodec.ReadUnverified(File.ReadAllText(file).Trim());
        if (token is null) return $"credential file {file} (UNREADABLE: not a SpecEdge credential)";
        string expiry = token.Expiry <= DateTimeOffset.UtcNow ? $"EXPIRED {token.Expiry:u}" : $"valid until {token.Expiry:u}";
        return $"credential file {file} ({token.Role} for conversation {token.ConversationId ?? "any"}, edge {token.EdgeId ?? "any"}, tenant {token.Tenant ?? "none"}, {expiry})";
    }
}
