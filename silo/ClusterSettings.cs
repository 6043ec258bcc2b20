namespace SpecEdge.Silo;

/// <summary>How this silo joins a cluster and where sessions are stored (configuration section <c>Cluster</c>).</summary>
public sealed class ClusterSettings
{
    public const string Section = "Cluster";

    /// <summary>
    /// "localhost" (one machine, development), "azuretable" (Azure Table membership: the cloud default) or "redis".
    /// </summary>
    public string Clustering { get; set; } = "localhost";
    /// <summary>Redis connection string (host:port,...) for "redis" membership.</summary>
    public string? RedisConnectionString { get; set; }
    /// <summary>Azure Storage connection string for "azuretable" membership; empty: <see cref="StorageConnectionString"/>.</summary>
    public string? ClusteringConnectionString { get; set; }
    /// <summary>
    /// The address other silos and clients reach this silo at ("azuretable"/"redis"). Empty: the environment variable
    /// POD_IP (Kubernetes downward API), else this machine's first non-loopback IPv4 address.
    /// </summary>
    public string? AdvertisedAddress { get; set; }
    /// <summary>Listen on every interface (0.0.0.0) instead of only the advertised address, e.g. behind NAT.</summary>
    public bool ListenOnAnyAddress { get; set; }
    /// <summary>Orleans cluster id: silos and clients of one cluster share it.</summary>
    public string ClusterId { get; set; } = "specedge";
    /// <summary>Orleans service id: stays the same across deployments, so stored state keeps its keys.</summary>
    public string ServiceId { get; set; } = "specedge";
    /// <summary>Unique silo name; verifiers are pinned by it. Default: POD_NAME, else machine name + silo port.</summary>
    public string? SiloName { get; set; }
    /// <summary>Silo-to-silo port (cluster CA certificates only, with TLS).</summary>
    public int SiloPort { get; set; } = 11111;
    /// <summary>The gateway port clients are given (and address the silo's gateway by).</summary>
    public int GatewayPort { get; set; } = 30000;
    /// <summary>
    /// The port the gateway actually binds, when clients reach it on another (<see cref="GatewayPort"/>) through a port
    /// forward or a TCP proxy; empty: <see cref="GatewayPort"/>. Clients address the gateway by the advertised endpoint,
    /// so a proxy on another port only works when the silo advertises the proxy's port.
    /// </summary>
    public int? GatewayListenPort { get; set; }
    /// <summary>For localhost clustering: the first silo's port, when this is a second silo on the same machine.</summary>
    public int? PrimarySiloPort { get; set; }
    /// <summary>Azure Blob connection string for session state; empty keeps sessions in memory.</summary>
    public string? StorageConnectionString { get; set; }
    /// <summary>Blob container of the session state (and the conversation indexes).</summary>
    public string StorageContainer { get; set; } = "specedge-sessions";
    /// <summary>
    /// Seconds of missed probes after which a silo is declared dead (0 keeps Orleans' defaults, tens of seconds).
    /// Small values suit one machine or a LAN; sessions of a dead silo come back elsewhere that much sooner.
    /// </summary>
    public double FailureDetectionSeconds { get; set; }
}
