namespace SpecEdge.EdgeClient;

/// <summary>
/// TLS of an edge host (configuration section <c>Tls</c>): the certificate it received at enrolment (PKCS#12 with its
/// key) and the cluster CA that silos' certificates must chain to. No certificate file means no TLS.
/// </summary>
public sealed class EdgeTlsOptions
{
    public const string Section = "Tls";

    /// <summary>This client's certificate and key (PKCS#12): edge-CA for the edge gateway, cluster-CA for an Orleans connection.</summary>
    public string? CertificateFile { get; set; }
    /// <summary>The cluster CA (PEM): a silo's certificate must chain to it.</summary>
    public string? ClusterCaFile { get; set; }
}
