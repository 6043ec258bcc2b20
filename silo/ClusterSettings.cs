namespace SpecEdge.Silo;

/// <summary>How this silo joins a cluster and where sessions are stored (configuration section <c>Cluster</c>).</summary>
public sealed class ClusterSettings
{
    public const string Section = "Cluster";

    /// <summary>"localhost" (one machine, development) or "redis" (several silos).</summary>
    public string Clustering { get; set; } = "localhost";
    public string? RedisConnectionString { get; set; }
    public string ClusterId { get; set; } = "specedge";
    public string ServiceId { get; set; } = "specedge";
    /// <summary>Unique silo name; verifiers are pinned by it. Default: machine name + silo port.</summary>
    public string? SiloName { get; set; }
    public int SiloPort { get; set; } = 11111;
    public int GatewayPort { get; set; } = 30000;
    /// <summary>For localhost clustering: the first silo's port, when this is a second silo on the same machine.</summary>
    public int? PrimarySiloPort { get; set; }
    /// <summary>Azure Blob connection string for session state; empty keeps sessions in memory.</summary>
    public string? StorageConnectionString { get; set; }
    public string StorageContainer { get; set; } = "specedge-sessions";
    /// <summary>
    /// Seconds of missed probes after which a silo is declared dead (0 keeps Orleans' defaults, tens of seconds).
    /// Small values suit one machine or a LAN; sessions of a dead silo come back elsewhere that much sooner.
    /// </summary>
    public double FailureDetectionSeconds { get; set; }
}
