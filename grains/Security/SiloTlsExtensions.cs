using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Configuration;
using Orleans.Connections.Security;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// TLS on every silo connection (Microsoft.Orleans.Connections.Security): the silo presents its cluster certificate and
/// requires one from every peer, not revoked. Which CA counts depends on the endpoint: on the gateway port the cluster
/// CA or the edge CA (enrolled edges), on the silo-to-silo port and on outgoing connections the cluster CA only, so an
/// edge certificate never opens a silo-to-silo connection.
/// </summary>
public static class SiloTlsExtensions
{
    /// <summary>Turns TLS on when <c>Tls:CertificateFile</c> is set; returns whether it did.</summary>
    public static bool UseSpecEdgeTls(this ISiloBuilder silo, IConfiguration configuration, int? gatewayPort)
    {
        var o = configuration.GetSection(SiloTlsOptions.Section).Get<SiloTlsOptions>() ?? new SiloTlsOptions();
        if (string.IsNullOrWhiteSpace(o.CertificateFile)) return false;
        UseSpecEdgeTls(silo, o, gatewayPort);
        return true;
    }

    /// <param name="gatewayPort">The port on which edge certificates are accepted; null accepts them on every inbound
    /// connection (in-memory test transports have no ports).</param>
    public static void UseSpecEdgeTls(this ISiloBuilder silo, SiloTlsOptions o, int? gatewayPort = null)
    {
        if (string.IsNullOrWhiteSpace(o.CertificateFile) || string.IsNullOrWhiteSpace(o.ClusterCaFile))
            throw new InvalidOperationException("TLS needs Tls:CertificateFile and Tls:ClusterCaFile.");
        var certificate = CertificateTrust.Load(o.CertificateFile);
        var clusterCa = CertificateTrust.Load(o.ClusterCaFile);
        var edgeCa = string.IsNullOrWhiteSpace(o.EdgeCaFile) ? null : CertificateTrust.Load(o.EdgeCaFile);
        var revoked = new RevocationList(o.RevocationFile);
        silo.UseTls(certificate, tls =>
        {
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            // The chain was built under the connection's policy (set below): any chain error means a CA that does not
            // count here. Host names are not checked (silos move between addresses; the issuing CA identifies them).
            tls.RemoteCertificateValidation = (remote, _, errors) =>
                (errors & ~SslPolicyErrors.RemoteCertificateNameMismatch) == SslPolicyErrors.None && !revoked.IsRevoked(remote);
            tls.OnAuthenticateAsServer = (connection, server) =>
            {
                bool gateway = gatewayPort is null || connection.LocalEndPoint is IPEndPoint local && local.Port == gatewayPort;
                ((SslServerAuthenticationOptions)server.SslServerAuthenticationOptions).CertificateChainPolicy =
                    TrustOnly(gateway && edgeCa is not null && o.EdgesOnOrleansGateway ? new[] { clusterCa, edgeCa } : new[] { clusterCa });
            };
            tls.OnAuthenticateAsClient = (_, client) =>
            {
                client.TargetHost = "specedge-silo";
                ((SslClientAuthenticationOptions)client.SslClientAuthenticationOptions).CertificateChainPolicy = TrustOnly(new[] { clusterCa });
            };
        });
    }

    /// <summary>A chain policy that trusts exactly these roots, not the machine store; revocation is our own list.</summary>
    private static X509ChainPolicy TrustOnly(X509Certificate2[] roots)
    {
        var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        policy.CustomTrustStore.AddRange(roots);
        return policy;
    }
}
