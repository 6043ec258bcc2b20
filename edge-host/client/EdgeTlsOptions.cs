namespace SpecEdge.EdgeClient;

/// <summary>
/// TLS of an edge host (configuration section <c>Tls</c>): the certificate it received at enrolment (PKCS#12 with its
/// key) and the cluster CA that silos' certificates must chain to. No certificate file means no TLS.
/// </summary>
public sealed class EdgeTlsOptions
{
    public const string Section = "Tls";

    public string? CertificateFile { get; set; }
    public string? ClusterCaFile { get; set; }
}
