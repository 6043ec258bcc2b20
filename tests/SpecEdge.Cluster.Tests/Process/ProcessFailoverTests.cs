using System.Diagnostics;
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

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Real processes: redis-server (clustering), Azurite (session state) and two silo executables with the demo target.
/// Kill -9 the silo that hosts a busy session: the session comes back on the other silo, rebuilds its KV cache by
/// prefill from the persisted tokens, and its reply continues to exactly the target's greedy text.
/// </summary>
[Trait("Kind", "process")]
public class ProcessFailoverTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillingASiloProcess_TheBusySessionComesBackOnTheOther_AndTheReplyEqualsGreedy()
    {
        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string siloExe = Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo");
        Assert.True(File.Exists(siloExe), $"silo executable missing: {siloExe} (build the solution first)");
        string redisServer = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("redis-server is not installed: apt-get install -y redis-server (infra/test.sh does it).");
        string target = Path.Combine(root, "models", "demo", "target");

        using var azurite = new AzuriteFixture();
        int redisPort = ExternalProcess.FreePort();
        using var redis = new ExternalProcess("redis", redisServer, new[] { "--port", redisPort.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no" }, Path.GetTempPath());
        await redis.WaitForPortAsync(redisPort, TimeSpan.FromSeconds(20));
        string redisConnection = $"127.0.0.1:{redisPort}";
        string clusterId = "failover-" + Guid.NewGuid().ToString("N")[..8];
        // The silos read their signing key from a file (never the command line); the test client is an operator.
        string key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        string keyFile = Path.Combine(Path.GetTempPath(), clusterId + "-keys.json");
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + key + "\"}}");
        // TLS on: silos hold cluster-CA certificates (and check each other's); the test client is an operator's tool, so
        // it holds one too (the Orleans gateway takes no edge-CA certificate).
        var clusterCa = TestCertificates.Authority("failover cluster CA");
        var edgeCa = TestCertificates.Authority("failover edge CA");
        string clusterCaPem = TestCertificates.WritePem(clusterCa, Path.Combine(Path.GetTempPath(), clusterId + "-cluster-ca.pem"));
        string edgeCaPem = TestCertificates.WritePem(edgeCa, Path.Combine(Path.GetTempPath(), clusterId + "-edge-ca.pem"));
        string clientPfx = TestCertificates.WritePkcs12(TestCertificates.Issue(clusterCa, "test-client"), Path.Combine(Path.GetTempPath(), clusterId + "-client.pfx"));
        string operatorToken = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Operator, ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() },
            SigningKeySet.Load(keyFile));

        ExternalProcess StartSilo(string name) => new(name, siloExe, new[]
        {
            "--urls", "http://127.0.0.1:0", "--SpecEdge:TargetModel", target, "--SpecEdge:Threads", "1",
            "--Cluster:Clustering", "redis", "--Cluster:RedisConnectionString", redisConnection, "--Cluster:AdvertisedAddress", "127.0.0.1",
            "--Cluster:ClusterId", clusterId, "--Cluster:ServiceId", clusterId, "--Cluster:SiloName", name,
            "--Cluster:SiloPort", ExternalProcess.FreePort().ToString(), "--Cluster:GatewayPort", (gateways[name] = ExternalProcess.FreePort()).ToString(),
            "--Cluster:StorageConnectionString", azurite.ConnectionString, "--Cluster:StorageContainer", clusterId,
            "--Cluster:FailureDetectionSeconds", "2", "--SpecEdge:DType", dtype, "--Security:KeyFile", keyFile,
            "--urls", $"http://127.0.0.1:{ExternalProcess.FreePort()}",   // each silo's HTTP API on its own port
            "--Tls:CertificateFile", TestCertificates.WritePkcs12(TestCertificates.Issue(clusterCa, name), Path.Combine(Path.GetTempPath(), $"{clusterId}-{name}.pfx")),
            "--Tls:ClusterCaFile", clusterCaPem, "--Tls:EdgeCaFile", edgeCaPem,
        }, root);
        var silos = new Dictionary<string, ExternalProcess>();
        try
        {
            foreach (var name in new[] { "silo-a", "silo-b" }) silos[name] = StartSilo(name);
            foreach (var (name, process) in silos) await process.WaitForPortAsync(gateways[name], TimeSpan.FromSeconds(90));

            var builder = Host.CreateApplicationBuilder();
            builder.UseOrleansClient(c =>
            {
                c.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = clusterId; o.ServiceId = clusterId; });
                c.UseRedisClustering(redisConnection);
                // Calls to a dead silo fail fast instead of waiting out the default 30 s response timeout.
                c.Configure<Orleans.Configuration.ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(3));
                c.AddBroadcastChannel(ChannelNames.Provider);
                c.AddSpecEdgeCredential(o => o.Token = operatorToken);
                c.UseSpecEdgeTls(new EdgeTlsOptions { CertificateFile = clientPfx, ClusterCaFile = clusterCaPem });
            });
            using var host = builder.Build();
            await host.StartAsync();
            var client = host.Services.GetRequiredService<IClusterClient>();

            const string id = "test/busy-session";
            var session = client.GetGrain<ISessionGrain>(id);
            await session.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = 300, UseChatTemplate = false });
            var turn = await session.SendUserMessageAsync("The history of the city");

            SessionSnapshot busy;
            do { await Task.Delay(50); busy = await session.GetAsync(); }
            while (busy.Generating && busy.CommittedTokens - turn.CommittedLength < 20);
            Assert.True(busy.Generating, "the reply must still be in progress when its silo dies");

            var clock = Stopwatch.StartNew();
            silos[busy.Silo!].Kill();
            SessionSnapshot back = null!;
            for (int attempt = 0; ; attempt++)
            {
                try { back = await session.GetAsync(); if (back.Silo != busy.Silo) break; }
                catch (Exception) when (attempt < 600) { }
                if (attempt >= 600) throw new TimeoutException("the session did not come back within 60 s");
                await Task.Delay(100);
            }
            var comeback = clock.Elapsed;

            var reply = new List<int>();
            await foreach (var chunk in session.StreamReplyAsync()) reply.AddRange(chunk.Tokens);
            var done = clock.Elapsed;
            output.WriteLine($"killed {busy.Silo} after {busy.CommittedTokens - turn.CommittedLength} reply tokens; session back on {back.Silo} after {comeback.TotalSeconds:F2}s; reply finished {done.TotalSeconds:F2}s after the kill ({reply.Count} tokens)");

            // Reference: the target's own greedy decoding of the same prompt, in this process, with the silo's stop rules.
            using var models = new ModelHost(Options.Create(new SpecEdgeSiloOptions { TargetModel = target, DType = dtype }), NullLogger<ModelHost>.Instance);
            var prompt = models.Tokenizer.Encode("The history of the city");
            var expected = AutoregressiveDecoder.Generate(new TargetVerifier(models.Target(0)),
                new[] { new GenerationRequest(prompt, Inference.Sampling.SamplingParams.Greedy, models.StopCriteria(300, Array.Empty<string>())) }, capacity: 1024)[0].Tokens;
            int firstDifference = Enumerable.Range(0, Math.Min(expected.Length, reply.Count)).FirstOrDefault(i => expected[i] != reply[i], -1);
            output.WriteLine($"first difference at reply token {firstDifference} (expected {expected.Length} tokens, got {reply.Count})");
            Assert.Equal(expected, reply.ToArray());
            Assert.Equal(turn.CommittedLength + reply.Count, (await session.GetAsync()).CommittedTokens);
            await host.StopAsync();
        }
        finally
        {
            foreach (var s in silos.Values) s.Dispose();
        }
    }

    private readonly Dictionary<string, int> gateways = new();
    private const string dtype = "fp32";
}
