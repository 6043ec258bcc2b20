using Microsoft.Extensions.Configuration;
using Orleans.Connections.Security;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// TLS on every silo connection (Microsoft.Orleans.Connections.Security): the silo presents its cluster certificate and
/// requires one from every peer, issued by the cluster CA (silos) or the edge CA (enrolled edges) and not revoked.
/// </summary>
public static class SiloTlsExtensions
{
    /// <summary>Turns TLS on when <c>Tls:CertificateFile</c> is set; returns whether it did.</summary>
    public static bool UseSpecEdgeTls(this ISiloBuilder silo, IConfiguration configuration)
    {
        var o = configuration.GetSection(SiloTlsOptions.Section).Get<SiloTlsOptions>() ?? new SiloTlsOptions();
        if (string.IsNullOrWhiteSpace(o.CertificateFile)) return false;
        UseSpecEdgeTls(silo, o);
        return true;
    }

    public static void UseSpecEdgeTls(this ISiloBuilder silo, SiloTlsOptions o)
    {
        var certificate = CertificateTrust.Load(o.CertificateFile!);
        var authorities = new[] { o.ClusterCaFile, o.EdgeCaFile }.Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => CertificateTrust.Load(f!)).ToArray();
        if (authorities.Length == 0) throw new InvalidOperationException("Tls:CertificateFile is set but neither Tls:ClusterCaFile nor Tls:EdgeCaFile is.");
        var revoked = new RevocationList(o.RevocationFile);
        silo.UseTls(certificate, tls =>
        {
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.ClientCertificateMode = RemoteCertificateMode.RequireCertificate;
            // Our own chain check replaces the machine store's; a revoked certificate fails even if its chain is good.
            tls.RemoteCertificateValidation = (remote, _, _) =>
                !revoked.IsRevoked(remote) && authorities.Any(ca => CertificateTrust.IsIssuedBy(remote, ca));
            tls.OnAuthenticateAsClient = (_, client) => client.TargetHost = "specedge-silo";
        });
    }
}
