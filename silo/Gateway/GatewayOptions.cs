namespace SpecEdge.Silo.Gateway;

/// <summary>
/// The edge gateway (configuration section <c>Gateway</c>): a gRPC endpoint of the silo's Kestrel for untrusted edge
/// hosts. With <c>Tls:CertificateFile</c> set it serves HTTPS and requires a client certificate issued by
/// <c>Tls:EdgeCaFile</c> (or the cluster CA) and not revoked; without TLS it serves plaintext HTTP/2 (development only).
/// </summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>The gateway's port; 0 turns the gateway off.</summary>
    public int Port { get; set; }

    /// <summary>Address to listen on (loopback unless configured: containers and VMs set 0.0.0.0).</summary>
    public string ListenAddress { get; set; } = "127.0.0.1";

    /// <summary>Largest message either way; a tree of 256 nodes is about 1.5 KB, an attachment of 32k tokens about 100 KB.</summary>
    public int MaxMessageBytes { get; set; } = 1 << 20;

    /// <summary>Concurrent streams (conversations) one connection may open.</summary>
    public int MaxStreamsPerConnection { get; set; } = 32;

    /// <summary>Seconds between HTTP/2 keep-alive pings to an idle connection; a connection that does not answer is closed.</summary>
    public int KeepAlivePingSeconds { get; set; } = 30;
}
