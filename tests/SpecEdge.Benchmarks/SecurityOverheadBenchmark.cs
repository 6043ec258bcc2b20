using System.Diagnostics;
using System.Text.Json;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using System.Security.Cryptography.X509Certificates;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What the trust boundary costs per step: two in-process clusters side by side in one run, identical but for
/// credential checks (AddSpecEdgeSecurity + an edge credential on the client), measured interleaved so that machine
/// load hits both alike. (1) A plain grain call round trip (GetAsync, sequential); (2) the per-step overhead of
/// edge-assisted decoding (edge round trip minus verifier forward), direct-call transport, proactive drafting off.
/// A third cluster adds TLS (cluster and edge certificates from a throwaway PKI) to the credential checks.
/// </summary>
public static class SecurityOverheadBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        string target = Path.GetFullPath(o.String("target", "models/demo/target"));
        string draftDir = Path.GetFullPath(o.String("draft", "models/demo/draft"));
        int calls = o.Int("calls", 3000);
        int steps = o.Int("steps", 200);
        string outPath = o.String("out", "bench-results/security.json");
        TorchSharp.torch.set_num_threads(o.Int("threads", 1));

        string key = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var keys = SigningKeySet.FromBase64("bench", new Dictionary<string, string> { ["bench"] = key });
        string Edge(string conversation) => CredentialCodec.Sign(new AccessCredential
        {
            Role = CredentialRole.Edge, ConversationId = conversation, EdgeId = "bench-" + conversation, Chat = true,
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeSeconds(),
        }, keys);

        var (siloTls, edgeTls) = TestCertificates.Pki("bench");

        async Task<InProcessTestCluster> Start(bool secured, bool tls = false)
        {
            string operatorToken = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Operator, ExpiresAt = DateTimeOffset.UtcNow.AddHours(2).ToUnixTimeSeconds() }, keys);
            // Both clients run the credential filter; only the secured silo checks what it sends. The test host itself
            // asks the management grain for liveness, so the client's own credential is an operator's; every measured
            // call runs under an edge credential (CallerCredential.Use).
            return await BenchCluster.StartAsync(s => { s.TargetModel = target; s.MaxBatch = 8; s.MaxContextTokens = 1024; s.Threads = 0; },
                silo =>
                {
                    if (secured) silo.AddSpecEdgeSecurity(s => { s.Keys["bench"] = key; s.ActiveKeyId = "bench"; });
                    if (tls) silo.UseSpecEdgeTls(siloTls);
                },
                c =>
                {
                    c.AddSpecEdgeCredential(o => o.Token = operatorToken);
                    if (tls) c.UseSpecEdgeTls(edgeTls);
                });
        }

        var plain = await Start(secured: false);
        var secured = await Start(secured: true);
        var encrypted = await Start(secured: true, tls: true);
        using var draft = CausalLm.Load(draftDir);
        var modes = new (string Name, IClusterClient Client)[] { ("no checks", plain.Client), ("credential checks", secured.Client), ("checks + TLS", encrypted.Client) };
        Console.WriteLine($"two clusters up; load average {File.ReadAllText("/proc/loadavg").Trim()}");

        // (1) Plain call round trips, alternating blocks of 100 between the clusters.
        var callMs = modes.ToDictionary(m => m.Name, _ => new List<double>());
        foreach (var (name, client) in modes)
            using (CallerCredential.Use(Edge("bench/calls"))) await client.GetGrain<ISessionGrain>("bench/calls").GetAsync();   // warm up
        for (int block = 0; block < calls / 100; block++)
            foreach (var (name, client) in modes)
                using (CallerCredential.Use(Edge("bench/calls")))
                {
                    var session = client.GetGrain<ISessionGrain>("bench/calls");
                    for (int i = 0; i < 100; i++)
                    {
                        long start = Stopwatch.GetTimestamp();
                        await session.GetAsync();
                        callMs[name].Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    }
                }

        // (2) Per-step overhead of edge-assisted decoding, reply by reply in turn.
        var overheadMs = modes.ToDictionary(m => m.Name, _ => new List<double>());
        for (int run = 0; overheadMs.Values.Min(v => v.Count) < steps; run++)
            foreach (var (name, client) in modes)
            {
                string id = $"bench/step-{run}";
                using (CallerCredential.Use(Edge(id)))
                {
                    var session = client.GetGrain<ISessionGrain>(id);
                    await session.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = 48, UseChatTemplate = false });
                    using var edge = new EdgeSession(client, draft, id, "bench-" + id, new DraftTreeOptions { Proactive = false }, capacity: 2048, TreeTransport.DirectCall);
                    await edge.AttachAsync();
                    await edge.SendAsync(ClusterBenchmarkPrompts[run % ClusterBenchmarkPrompts.Length]);
                    var stats = await edge.RunReplyAsync();
                    await edge.DetachAsync();
                    for (int i = 1; i < stats.StepMilliseconds.Count; i++) overheadMs[name].Add(stats.StepMilliseconds[i] - stats.ServerMilliseconds[i]);
                }
            }

        Console.WriteLine();
        Console.WriteLine("| mode | calls | GetAsync p50 ms | p99 ms | steps | step overhead p50 ms | p99 ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        var rows = new List<object>();
        foreach (var (name, _) in modes)
        {
            var row = new { mode = name, calls = callMs[name].Count, callP50 = Percentile.Of(callMs[name], 50), callP99 = Percentile.Of(callMs[name], 99),
                steps = overheadMs[name].Count, stepP50 = Percentile.Of(overheadMs[name], 50), stepP99 = Percentile.Of(overheadMs[name], 99) };
            rows.Add(row);
            Console.WriteLine($"| {row.mode} | {row.calls} | {row.callP50:F3} | {row.callP99:F3} | {row.steps} | {row.stepP50:F3} | {row.stepP99:F3} |");
        }
        double callDelta = Percentile.Of(callMs["credential checks"], 50) - Percentile.Of(callMs["no checks"], 50);
        double stepDelta = Percentile.Of(overheadMs["credential checks"], 50) - Percentile.Of(overheadMs["no checks"], 50);
        double tlsCallDelta = Percentile.Of(callMs["checks + TLS"], 50) - Percentile.Of(callMs["no checks"], 50);
        double tlsStepDelta = Percentile.Of(overheadMs["checks + TLS"], 50) - Percentile.Of(overheadMs["no checks"], 50);
        Console.WriteLine($"credential checks add {callDelta:F3} ms p50 per call and {stepDelta:F3} ms p50 per step; with TLS {tlsCallDelta:F3} and {tlsStepDelta:F3}");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new { rows, callDeltaP50Ms = callDelta, stepDeltaP50Ms = stepDelta, tlsCallDeltaP50Ms = tlsCallDelta, tlsStepDeltaP50Ms = tlsStepDelta, loadAverage = File.ReadAllText("/proc/loadavg").Trim() },
            new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
        foreach (var c in new[] { plain, secured, encrypted }) { await c.StopAllSilosAsync(); await c.DisposeAsync(); }
    }

    private static readonly string[] ClusterBenchmarkPrompts =
    {
        "The history of the city", "He said that the committee", "In the morning the farmers", "The new law will",
    };

}
