using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Azure.Data.Tables;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace SpecEdge.Silo;

/// <summary>How a silo joins its cluster, from <see cref="ClusterSettings"/>.</summary>
public static class SiloClusteringExtensions
{
    /// <summary>
    /// Membership ("localhost", "azuretable" or "redis") and endpoints. Outside localhost mode the silo advertises a
    /// routable address (never loopback: silos on other machines could not reach it), and listens on that address only
    /// unless <see cref="ClusterSettings.ListenOnAnyAddress"/>.
    /// </summary>
    public static ISiloBuilder UseSpecEdgeClustering(this ISiloBuilder silo, ClusterSettings cluster)
    {
        switch (cluster.Clustering.ToLowerInvariant())
        {
            case "localhost":
                silo.UseLocalhostClustering(cluster.SiloPort, cluster.GatewayPort,
                    cluster.PrimarySiloPort is int primary ? new IPEndPoint(IPAddress.Loopback, primary) : null,
                    cluster.ServiceId, cluster.ClusterId);
                return silo;
            case "azuretable":
                string tables = cluster.ClusteringConnectionString is { Length: > 0 } c ? c : cluster.StorageConnectionString ?? "";
                if (string.IsNullOrWhiteSpace(tables))
                    throw new InvalidOperationException("Cluster:Clustering is 'azuretable' but neither Cluster:ClusteringConnectionString nor Cluster:StorageConnectionString is set.");
                silo.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(tables));
                break;
            case "redis":
                if (string.IsNullOrWhiteSpace(cluster.RedisConnectionString))
                    throw new InvalidOperationException("Cluster:Clustering is 'redis' but Cluster:RedisConnectionString is empty.");
                silo.UseRedisClustering(cluster.RedisConnectionString);
                break;
            default:
                throw new InvalidOperationException($"Cluster:Clustering '{cluster.Clustering}' is not supported: use 'localhost', 'azuretable' or 'redis'.");
        }
        var advertised = AdvertisedAddress(cluster);
        silo.ConfigureEndpoints(advertised, cluster.SiloPort, cluster.GatewayPort, listenOnAnyHostAddress: cluster.ListenOnAnyAddress);
        if (cluster.GatewayListenPort is int listen)
            silo.Configure<EndpointOptions>(o => o.GatewayListeningEndpoint = new IPEndPoint(cluster.ListenOnAnyAddress ? IPAddress.Any : advertised, listen));
        return silo;
    }

    /// <summary>The silo's name: Cluster:SiloName, else POD_NAME (unique per pod), else machine name + silo port.</summary>
    public static string SiloName(ClusterSettings cluster) =>
        cluster.SiloName is { Length: > 0 } name ? name
        : Environment.GetEnvironmentVariable("POD_NAME") is { Length: > 0 } pod ? pod
        : $"{Environment.MachineName}-{cluster.SiloPort}";

    /// <summary>Cluster:AdvertisedAddress, else POD_IP, else the first non-loopback IPv4 address of an interface that is up.</summary>
    public static IPAddress AdvertisedAddress(ClusterSettings cluster)
    {
        string? configured = cluster.AdvertisedAddress is { Length: > 0 } a ? a : Environment.GetEnvironmentVariable("POD_IP");
        if (!string.IsNullOrWhiteSpace(configured))
            return IPAddress.TryParse(configured.Trim(), out var parsed)
                ? parsed
                : throw new InvalidOperationException($"Cluster:AdvertisedAddress (or POD_IP) '{configured}' is not an IP address.");
        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(ip => ip.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(ip))
            ?? throw new InvalidOperationException(
                $"Cluster:Clustering '{cluster.Clustering}' needs an address other silos can reach, and this machine has no non-loopback IPv4 address: set Cluster:AdvertisedAddress.");
    }
}
