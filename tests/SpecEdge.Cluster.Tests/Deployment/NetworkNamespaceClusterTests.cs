using System.Diagnostics;
using Azure.Data.Tables;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// Two silo processes as the deployment runs them, each in its own network namespace with its own address (two
/// "machines"): configured only through the environment the Kubernetes manifests give (POD_IP, POD_NAME,
/// Cluster__Clustering=azuretable, ...), both on the same ports, membership and sessions in Azurite's table and blob
/// services. They form one cluster, report ready on /health/ready, serve an edge-host process through both gateways,
/// and when one is killed its busy session comes back on the other and the reply is still the target's greedy text.
/// </summary>
[Trait("Kind", "root")]
public sealed class NetworkNamespaceClusterTests(ITestOutputHelper output)
{
    private const string Prompt = "The history of the city";

    [SkippableFact]
    public async Task TwoSilosInSeparateNetworkNamespaces_FormOneClusterOverAzureTables_ServeAnEdge_AndSurviveAKill()
    {
        using var network = NetworkNamespaces.TryCreate(2, out var whyNot);
        if (network is null) throw new SkipException($"network namespaces unavailable: {whyNot}");

        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string siloExe = Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo");
        string edgeExe = Path.Combine(root, "edge-host", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.EdgeHost");
        Assert.True(File.Exists(siloExe) && File.Exists(edgeExe), $"build the silo and the edge host first ({siloExe}, {edgeExe})");
        string target = Path.Combine(root, "models", "demo", "target");

        // Azurite on the bridge: reachable from both namespaces, like a storage account from both VMs.
        using var azurite = new AzuriteFixture(network.HostAddress);
        string clusterId = "netns-" + Guid.NewGuid().ToString("N")[..8];
        string dir = Directory.CreateTempSubdirectory(clusterId).FullName;
        string keyFile = Path.Combine(dir, "keys.json");
        var keyBytes = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(keyBytes) + "\"}}");
        var keys = SigningKeySet.Load(keyFile);
        var clusterCa = TestCertificates.Authority("netns cluster CA");
        var edgeCa = TestCertificates.Authority("netns edge CA");
        string clusterCaPem = TestCertificates.WritePem(clusterCa, Path.Combine(dir, "cluster-ca.pem"));
        string edgeCaPem = TestCertificates.WritePem(edgeCa, Path.Combine(dir, "edge-ca.pem"));

        // The environment of infra/k8s/base/silo-deployment.yaml (plus faster failure detection for the test).
        Dictionary<string, string> SiloEnvironment(string name, string address) => new()
        {
            ["POD_IP"] = address,
            ["POD_NAME"] = name,
            ["ASPNETCORE_URLS"] = "http://0.0.0.0:8080",
            ["shutdownTimeoutSeconds"] = "75",
            ["Cluster__Clustering"] = "azuretable",
            ["Cluster__ClusterId"] = clusterId,
            ["Cluster__ServiceId"] = clusterId,
            ["Cluster__StorageConnectionString"] = azurite.ConnectionString,
            ["Cluster__StorageContainer"] = clusterId,
            ["Cluster__FailureDetectionSeconds"] = "2",
            ["SpecEdge__TargetModel"] = target,
            ["SpecEdge__Devices"] = "cpu",
            ["SpecEdge__KvMemoryMb"] = "256",
            ["SpecEdge__Threads"] = "1",
            ["Security__KeyFile"] = keyFile,
            ["Tls__CertificateFile"] = TestCertificates.WritePkcs12(TestCertificates.Issue(clusterCa, name), Path.Combine(dir, name + ".pfx")),
            ["Tls__ClusterCaFile"] = clusterCaPem,
            ["Tls__EdgeCaFile"] = edgeCaPem,
            ["Gateway__Port"] = "30443",
            ["Gateway__ListenAddress"] = "0.0.0.0",
        };
        var environments = network.Members.Select((m, i) => (Name: $"silo-{(char)('a' + i)}", m.Address, Env: SiloEnvironment($"silo-{(char)('a' + i)}", m.Address), Ns: m.Name)).ToList();
        AssertSameKeysAsTheManifest(environments[0].Env.Keys);
        foreach (var key in environments[0].Env.Keys) Assert.Null(SiloConfigurationKeys.Problem(key));

        var silos = new Dictionary<string, ExternalProcess>();
        try
        {
            foreach (var s in environments)
                silos[s.Name] = new ExternalProcess(s.Name, "ip", NetworkNamespaces.Exec(s.Ns, s.Env, siloExe), root);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            foreach (var s in environments) await WaitReadyAsync(http, s.Address, silos[s.Name]);
            foreach (var s in environments)
                Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"http://{s.Address}:8080/health/live")).StatusCode);

            // Membership in the table: both silos Active, each at its own namespace's address (never loopback).
            var table = new TableClient(azurite.ConnectionString, "OrleansSiloInstances");
            var rows = table.Query<TableEntity>(e => e.PartitionKey == clusterId).ToList()
                .Where(e => (string)e["Status"] == "Active").Select(e => (string)e["Address"]).OrderBy(a => a).ToList();
            output.WriteLine("active silos in the membership table: " + string.Join(", ", rows));
            Assert.Equal(environments.Select(s => s.Address).OrderBy(a => a), rows);

            // An edge-host process outside both namespaces, through both silos' edge gateways, like a gamer PC.
            string conversation = "netns/edge-chat";
            string edgeToken = Path.Combine(dir, "edge.token");
            File.WriteAllText(edgeToken, CredentialCodec.Sign(new AccessCredential
            {
                Role = CredentialRole.Edge, Tenant = "netns", ConversationId = conversation, EdgeId = "edge-1", Chat = true,
                ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
            }, keys));
            string edgePfx = TestCertificates.WritePkcs12(TestCertificates.Issue(edgeCa, "edge-1"), Path.Combine(dir, "edge-1.pfx"));
            string edgeOutput;
            using (var edge = new ExternalProcess("edge", edgeExe, new[]
                   {
                       "--edge-gateway", string.Join(",", environments.Select(s => $"https://{s.Address}:30443")),
                       "--draft", Path.Combine(root, "models", "demo", "draft"), "--session", conversation, "--prompt", Prompt, "--raw",
                       "--temperature", "0", "--max-new-tokens", "24", "--proactive", "false", "--threads", "1",
                       "--credential-file", edgeToken, "--certificate", edgePfx, "--cluster-ca", clusterCaPem,
                   }, root))
            {
                var clock = Stopwatch.StartNew();
                while (!edge.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(200);
                edgeOutput = edge.Output;
                output.WriteLine("edge host output:\n" + edgeOutput);
                Assert.True(edge.HasExited, "the edge host did not finish its prompt within 120 s");
                // Its first line says where it connects and as whom.
                Assert.Contains($"connecting to the edge gateway https://{environments[0].Address}:30443,https://{environments[1].Address}:30443 with", edge.Output);
                Assert.Contains($"Edge for conversation {conversation}, edge edge-1, tenant netns, valid until", edge.Output);
            }

            string operatorToken = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Operator, ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, keys);
            var builder = Host.CreateApplicationBuilder();
            builder.UseOrleansClient(c =>
            {
                c.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = clusterId; });
                c.UseAzureStorageClustering(o => o.TableServiceClient = new TableServiceClient(azurite.ConnectionString));
                c.Configure<Orleans.Configuration.ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5));
                c.AddBroadcastChannel(ChannelNames.Provider);
                c.AddSpecEdgeCredential(o => o.Token = operatorToken);
                c.UseSpecEdgeTls(new EdgeTlsOptions { CertificateFile = TestCertificates.WritePkcs12(TestCertificates.Issue(clusterCa, "operator"), Path.Combine(dir, "operator.pfx")), ClusterCaFile = clusterCaPem });
            });
            using var host = builder.Build();
            await host.StartAsync();
            var client = host.Services.GetRequiredService<IClusterClient>();

            using var models = new ModelHost(Options.Create(new SpecEdgeSiloOptions { TargetModel = target }), NullLogger<ModelHost>.Instance);
            var edgeReply = new List<int>();
            var edgeText = new System.Text.StringBuilder();
            await foreach (var chunk in client.GetGrain<ISessionGrain>(conversation).StreamReplyAsync())
            {
                edgeReply.AddRange(chunk.Tokens);
                edgeText.Append(chunk.Text);
            }
            Assert.Equal(Greedy(models, 24), edgeReply.ToArray());
            // The edge host showed the reply as the session streams it: the whole text, once, on its line.
            Assert.Contains("[assistant] " + edgeText + "\n", edgeOutput.ReplaceLineEndings("\n"));

            // A busy session; kill -9 the silo that holds it.
            var session = client.GetGrain<ISessionGrain>("netns/busy");
            await session.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = 200, UseChatTemplate = false });
            var turn = await session.SendUserMessageAsync(Prompt);
            SessionSnapshot busy;
            do { await Task.Delay(50); busy = await session.GetAsync(); }
            while (busy.Generating && busy.CommittedTokens - turn.CommittedLength < 16);
            Assert.True(busy.Generating, "the reply must still be in progress when its silo dies");
            silos[busy.Silo!].Kill();
            var clockAfterKill = Stopwatch.StartNew();

            var reply = new List<int>();
            for (int attempt = 0; ; attempt++)
            {
                try
                {
                    reply.Clear();
                    await foreach (var chunk in session.StreamReplyAsync()) reply.AddRange(chunk.Tokens);
                    break;
                }
                catch (Exception e) when (attempt < 60) { output.WriteLine($"after the kill: {e.GetType().Name}"); await Task.Delay(500); }
            }
            var after = await session.GetAsync();
            output.WriteLine($"killed {busy.Silo} at {busy.CommittedTokens - turn.CommittedLength} reply tokens; reply finished on {after.Silo} {clockAfterKill.Elapsed.TotalSeconds:F1} s later");
            Assert.NotEqual(busy.Silo, after.Silo);
            Assert.Equal(Greedy(models, 200), reply.ToArray());
            var survivor = environments.Single(s => s.Name != busy.Silo);
            Assert.Equal(System.Net.HttpStatusCode.OK, (await http.GetAsync($"http://{survivor.Address}:8080/health/ready")).StatusCode);
            await host.StopAsync();
        }
        finally
        {
            foreach (var s in silos.Values) s.Dispose();
        }
    }

    private static int[] Greedy(ModelHost models, int maxNewTokens) =>
        AutoregressiveDecoder.Generate(new TargetVerifier(models.Target(0)),
            new[] { new GenerationRequest(models.Tokenizer.Encode(Prompt), Inference.Sampling.SamplingParams.Greedy, models.StopCriteria(maxNewTokens, Array.Empty<string>())) },
            capacity: 1024)[0].Tokens;

    private async Task WaitReadyAsync(HttpClient http, string address, ExternalProcess silo)
    {
        var clock = Stopwatch.StartNew();
        string last = "";
        while (clock.Elapsed < TimeSpan.FromSeconds(150))
        {
            if (silo.HasExited) throw new InvalidOperationException($"{silo.Name} exited:\n{silo.Output}");
            try
            {
                var response = await http.GetAsync($"http://{address}:8080/health/ready");
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                if (response.IsSuccessStatusCode) { output.WriteLine($"{silo.Name} ready after {clock.Elapsed.TotalSeconds:F1} s"); return; }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { last = e.Message; }
            await Task.Delay(250);
        }
        throw new TimeoutException($"{silo.Name} at {address} not ready within 150 s (last answer: {last}):\n{silo.Output}");
    }

    /// <summary>The test starts silos with the manifest's keys (values differ: addresses, files), nothing less.</summary>
    private void AssertSameKeysAsTheManifest(IEnumerable<string> keys)
    {
        if (Kubectl.UnavailableReason is { } reason) { output.WriteLine($"not compared with the manifest: {reason}"); return; }
        var manifest = new RenderedManifest(Kubectl.Kustomize(Path.Combine(ClusterFixture.RepoRoot(), "infra", "k8s", "base"))).EnvNames();
        Assert.Empty(manifest.Except(keys));
    }
}
