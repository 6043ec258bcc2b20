namespace SpecEdge.Grains.Security;

/// <summary>
/// TLS of a silo (configuration section <c>Tls</c>); no <see cref="CertificateFile"/> means no TLS (development only).
/// One setting covers silo-to-silo and gateway connections (Orleans applies one TLS configuration to both).
/// </summary>
public sealed class SiloTlsOptions
{
    public const string Section = "Tls";

    /// <summary>This silo's certificate with its private key (PKCS#12, no password; keep the file mode 600).</summary>
    public string? CertificateFile { get; set; }
    /// <summary>CA (PEM) that issues silo certificates: other silos must present one.</summary>
    public string? ClusterCaFile { get; set; }
    /// <summary>CA (PEM) that issues edge certificates at enrolment: clients must present one (or a cluster one).</summary>
    public string? EdgeCaFile { get; set; }
    /// <summary>Withdrawn certificates, thumbprints or serials one per line; re-read when it changes.</summary>
    public string? RevocationFile { get; set; }
    /// <summary>
    /// Whether edge-CA certificates may open Orleans connections on the gateway port. Off by default: whoever holds an
    /// Orleans connection can forge responses to other callers (docs/security.md), so the Orleans gateway accepts
    /// cluster-CA certificates only (silos, operators' tools, fully trusted backends) and edges use the edge gateway.
    /// True restores the old behaviour for edge hosts that still need Orleans (<c>--serve</c>); it re-opens that hole.
    /// </summary>
    public bool EdgesOnOrleansGateway { get; set; }
}
