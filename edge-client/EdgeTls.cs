using Orleans.Connections.Security;
using SpecEdge.Contracts.Security;

namespace SpecEdge.EdgeClient;

/// <summary>Client-side TLS: present the enrolment certificate; accept only gateways whose certificate the cluster CA issued.</summary>
public static class EdgeTls
{
    public static IClientBuilder UseSpecEdgeTls(this IClientBuilder client, EdgeTlsOptions o)
    {
        if (string.IsNullOrWhiteSpace(o.CertificateFile)) return client;
        if (string.IsNullOrWhiteSpace(o.ClusterCaFile)) throw new InvalidOperationException("Tls:CertificateFile is set but Tls:ClusterCaFile is not.");
        var certificate = CertificateTrust.Load(o.CertificateFile);
        var clusterCa = CertificateTrust.Load(o.ClusterCaFile);
        return client.UseTls(certificate, tls =>
        {
            tls.RemoteCertificateMode = RemoteCertificateMode.RequireCertificate;
            tls.RemoteCertificateValidation = (remote, _, _) => CertificateTrust.IsIssuedBy(remote, clusterCa);
            tls.OnAuthenticateAsClient = (_, options) => options.TargetHost = "specedge-silo";
        });
    }
}
