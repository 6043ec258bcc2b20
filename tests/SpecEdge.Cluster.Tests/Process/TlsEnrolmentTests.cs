using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A real silo process with TLS on (cluster certificate, gateway requiring a client certificate from the edge CA,
/// revocation file): only enrolled, unrevoked edges connect, and withdrawing one takes effect without a restart.
/// Edges reach the Orleans gateway here because the test opts in (<c>Tls:EdgesOnOrleansGateway=true</c>, for edge
/// hosts that still need Orleans); by default the Orleans gateway takes cluster-CA certificates only
/// (<see cref="EdgeGatewayTlsTests"/>), and the same certificate checks guard the edge gateway.
/// </summary>
[Trait("Kind", "process")]
public class TlsEnrolmentTests(ITestOutputHelper output)
{
    private Task<bool> HandshakeAsync(int port, string pfx) => HandshakeAsync(port, pfx, output);

    /// <summary>Whether a TLS connection with <paramref name="pfx"/> as client certificate is accepted on <paramref name="port"/>.</summary>
    internal static async Task<bool> HandshakeAsync(int port, string pfx, ITestOutputHelper output)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, port);
        using var ssl = new System.Net.Security.SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        try
        {
            await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
            {
                TargetHost = "specedge-silo",
                ClientCertificates = new() { System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadPkcs12FromFile(pfx, null) },
            }).WaitAsync(TimeSpan.FromSeconds(15));
            // The server checks a client certificate once the handshake is done and then drops the connection, so the
            // verdict is whether the connection stays open (or the server speaks) for a moment.
            var read = ssl.ReadAsync(new byte[64]).AsTask();
            if (await Task.WhenAny(read, Task.Delay(TimeSpan.FromSeconds(2))) != read) return true;
            return await read > 0;
        }
        catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or TimeoutException)
        {
            output.WriteLine($"handshake on port {port} with {Path.GetFileName(pfx)}: {e.GetType().Name}: {e.Message}");
            return false;
        }
    }

    [Fact]
    public async Task OnlyEdgesWithAnUnrevokedCertificateFromTheEdgeCa_CanConnect()
    {
        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string siloExe = Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo");
        string dir = Directory.CreateTempSubdirectory("specedge-tls-").FullName;

        var (_, siloPfx, enrolled, withdrawnCertificate, withdrawn, stranger, clusterCaPem, edgeCaPem, revocations) = TestCertificates.EdgeTrust(dir, "silo-tls");
        var keys = SigningKeySet.CreateRandom("k1");
        string keyFile = Path.Combine(dir, "keys.json");
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(keys.ActiveKey) + "\"}}");

        int siloPort = ExternalProcess.FreePort(), gatewayPort = ExternalProcess.FreePort();
        using var silo = new ExternalProcess("silo-tls", siloExe, new[]
        {
            "--urls", "http://127.0.0.1:0", "--SpecEdge:TargetModel", Path.Combine(root, "models", "demo", "target"), "--SpecEdge:Threads", "1",
            "--Cluster:SiloName", "silo-tls", "--Cluster:SiloPort", siloPort.ToString(), "--Cluster:GatewayPort", gatewayPort.ToString(),
            "--Cluster:ClusterId", "tls-test", "--Cluster:ServiceId", "tls-test",
            "--Security:KeyFile", keyFile, "--Tls:CertificateFile", siloPfx, "--Tls:ClusterCaFile", clusterCaPem,
            "--Tls:EdgeCaFile", edgeCaPem, "--Tls:RevocationFile", revocations, "--Tls:EdgesOnOrleansGateway", "true", "--urls", $"http://127.0.0.1:{ExternalProcess.FreePort()}",
        }, root);
        await silo.WaitForPortAsync(gatewayPort, TimeSpan.FromSeconds(90));

        const string conversation = "tenant-a/tls-chat";
        string token = CredentialCodec.Sign(new AccessCredential
        {
            Role = CredentialRole.Edge, ConversationId = conversation, EdgeId = "edge-1", Chat = true,
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
        }, keys);

        async Task<string?> TryConnectAsync(string? certificate)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.UseOrleansClient(c =>
            {
                c.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = "tls-test"; o.ServiceId = "tls-test"; });
                c.UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gatewayPort));
                c.AddSpecEdgeCredential(o => o.Token = token);
                c.UseSpecEdgeTls(new EdgeTlsOptions { CertificateFile = certificate, ClusterCaFile = clusterCaPem });
                c.UseConnectionRetryFilter((_, _) => Task.FromResult(false));   // a refused handshake fails the start at once
            });
            using var host = builder.Build();
            try
            {
                await host.StartAsync().WaitAsync(TimeSpan.FromSeconds(30));
                var snapshot = await host.Services.GetRequiredService<IClusterClient>().GetGrain<ISessionGrain>(conversation).GetAsync().WaitAsync(TimeSpan.FromSeconds(30));
                await host.StopAsync();
                return snapshot.SessionId;
            }
            catch (Exception e)
            {
                output.WriteLine($"{certificate ?? "no certificate"}: {e.GetType().Name}: {e.Message.Split('\n')[0]}");
                return null;
            }
        }

        // At the TLS level: an edge certificate opens the gateway port but not the silo-to-silo port.
        Assert.True(await HandshakeAsync(gatewayPort, enrolled));
        Assert.False(await HandshakeAsync(siloPort, enrolled));
        Assert.False(await HandshakeAsync(gatewayPort, stranger));

        Assert.Equal(conversation, await TryConnectAsync(enrolled));     // control: an enrolled edge connects and is served
        Assert.Equal(conversation, await TryConnectAsync(withdrawn));    // not yet withdrawn
        Assert.Null(await TryConnectAsync(null));                        // plain TCP to a TLS gateway
        Assert.Null(await TryConnectAsync(stranger));                    // a certificate from another CA

        File.AppendAllText(revocations, withdrawnCertificate.Thumbprint + "\n");   // withdrawn while the silo runs
        Assert.Null(await TryConnectAsync(withdrawn));
        Assert.Equal(conversation, await TryConnectAsync(enrolled));     // the others are unaffected
        Assert.False(silo.HasExited, silo.Output);
        Directory.Delete(dir, recursive: true);
    }
}
