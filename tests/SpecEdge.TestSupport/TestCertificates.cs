using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using SpecEdge.EdgeClient;

namespace SpecEdge.TestSupport;

/// <summary>A throwaway PKI for TLS tests: CAs and leaf certificates (server and client use), written as PEM / PKCS#12.</summary>
public static class TestCertificates
{
    public static X509Certificate2 Authority(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
    }

    public static X509Certificate2 Issue(X509Certificate2 authority, string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(new OidCollection { new("1.3.6.1.5.5.7.3.1"), new("1.3.6.1.5.5.7.3.2") }, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        using var certificate = request.Create(authority, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(12));
        return certificate.CopyWithPrivateKey(key);
    }

    public static string WritePem(X509Certificate2 certificate, string path)
    {
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }

    public static string WritePkcs12(X509Certificate2 certificate, string path)
    {
        File.WriteAllBytes(path, certificate.Export(X509ContentType.Pkcs12));
        return path;
    }

    /// <summary>
    /// A throwaway PKI as in production, written to a temporary folder: a cluster CA and an edge CA, a silo certificate
    /// from the cluster CA and an Orleans client certificate, also from the cluster CA (the Orleans gateway's only kind).
    /// </summary>
    public static (SpecEdge.Grains.Security.SiloTlsOptions Silo, SpecEdge.EdgeClient.EdgeTlsOptions Client) Pki(string label)
    {
        string pki = Directory.CreateTempSubdirectory($"specedge-{label}-pki-").FullName;
        var clusterCa = Authority($"{label} cluster CA");
        var edgeCa = Authority($"{label} edge CA");
        var silo = new SpecEdge.Grains.Security.SiloTlsOptions
        {
            CertificateFile = WritePkcs12(Issue(clusterCa, $"{label}-silo"), Path.Combine(pki, "silo.pfx")),
            ClusterCaFile = WritePem(clusterCa, Path.Combine(pki, "cluster-ca.pem")),
            EdgeCaFile = WritePem(edgeCa, Path.Combine(pki, "edge-ca.pem")),
        };
        var client = new SpecEdge.EdgeClient.EdgeTlsOptions
        {
            // An Orleans client is trusted with every conversation, so its certificate is the cluster CA's: the Orleans
            // gateway takes no edge-CA certificate (Tls:EdgesOnOrleansGateway=false). Edge credentials still decide
            // what each call may do.
            CertificateFile = WritePkcs12(Issue(clusterCa, $"{label}-client"), Path.Combine(pki, "client.pfx")),
            ClusterCaFile = silo.ClusterCaFile,
        };
        return (silo, client);
    }

    /// <summary>
    /// The files of a TLS test of who may connect, written to <paramref name="dir"/>: a silo certificate from the cluster
    /// CA, an enrolled edge (edge-1) and one about to be withdrawn (edge-2) from the edge CA, a stranger from another CA,
    /// both CAs' PEM files and an empty revocation list.
    /// </summary>
    public static EdgeTrustFiles EdgeTrust(string dir, string siloName)
    {
        var clusterCa = Authority("SpecEdge cluster CA");
        var edgeCa = Authority("SpecEdge edge CA");
        var strangerCa = Authority("Someone else's CA");
        var withdrawn = Issue(edgeCa, "edge-2");
        string revocations = Path.Combine(dir, "revoked.txt");
        File.WriteAllText(revocations, "# withdrawn edges\n");
        return new EdgeTrustFiles(clusterCa,
            WritePkcs12(Issue(clusterCa, siloName), Path.Combine(dir, "silo.pfx")),
            WritePkcs12(Issue(edgeCa, "edge-1"), Path.Combine(dir, "edge-1.pfx")),
            withdrawn, WritePkcs12(withdrawn, Path.Combine(dir, "edge-2.pfx")),
            WritePkcs12(Issue(strangerCa, "edge-x"), Path.Combine(dir, "edge-x.pfx")),
            WritePem(clusterCa, Path.Combine(dir, "cluster-ca.pem")), WritePem(edgeCa, Path.Combine(dir, "edge-ca.pem")), revocations);
    }
}

/// <summary>What <see cref="TestCertificates.EdgeTrust"/> wrote (paths), and the certificates a test needs beside them.</summary>
public sealed record EdgeTrustFiles(X509Certificate2 ClusterCa, string SiloPfx, string Enrolled, X509Certificate2 WithdrawnCertificate, string Withdrawn,
    string Stranger, string ClusterCaPem, string EdgeCaPem, string Revocations);
