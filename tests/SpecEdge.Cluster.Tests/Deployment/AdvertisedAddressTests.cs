using System.Net;
using System.Reflection;
using Xunit;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// The address a silo advertises outside localhost mode (silo/SiloClusteringExtensions.cs, called through reflection:
/// the silo is an executable this project does not reference): configured, else POD_IP, else a non-loopback address;
/// never loopback by default, which is what kept silos on two machines from forming a cluster.
/// </summary>
[Trait("Kind", "unit")]
public sealed class AdvertisedAddressTests
{
    [Fact]
    public void AdvertisedAddress_Configured_IsUsedAsGiven()
    {
        Assert.Equal(IPAddress.Parse("10.1.2.3"), Resolve("10.1.2.3"));
    }

    [Fact]
    public void AdvertisedAddress_NotConfigured_IsThisMachinesOwnAddress_NotLoopback()
    {
        if (Environment.GetEnvironmentVariable("POD_IP") is { Length: > 0 }) return; // then POD_IP wins, as in a pod
        var address = Resolve(null);
        Assert.False(IPAddress.IsLoopback(address), $"advertised {address}");
        Assert.Equal(System.Net.Sockets.AddressFamily.InterNetwork, address.AddressFamily);
    }

    [Fact]
    public void AdvertisedAddress_NotAnAddress_FailsNamingTheSetting()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Resolve("silo-a.local"));
        Assert.Contains("Cluster:AdvertisedAddress", error.Message);
        Assert.Contains("silo-a.local", error.Message);
    }

    private static IPAddress Resolve(string? configured)
    {
        var silo = SiloConfigurationKeys.SiloAssembly();
        var settings = Activator.CreateInstance(silo.GetType("SpecEdge.Silo.ClusterSettings", throwOnError: true)!)!;
        settings.GetType().GetProperty("Clustering")!.SetValue(settings, "azuretable");
        settings.GetType().GetProperty("AdvertisedAddress")!.SetValue(settings, configured);
        var method = silo.GetType("SpecEdge.Silo.SiloClusteringExtensions", throwOnError: true)!.GetMethod("AdvertisedAddress")!;
        try { return (IPAddress)method.Invoke(null, [settings])!; }
        catch (TargetInvocationException e) { throw e.InnerException!; }
    }
}
