using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// The Orleans service measured end to end on one machine: a real silo (in-process test cluster, loopback TCP between
/// client and gateway) with the demo target, and edge clients with the demo draft.
/// (1) Transport overhead per step: round trip seen by the edge minus the verifier's forward time for that step, for
///     the broadcast channel (push) and a direct grain call, interleaved in one run; proactive drafting off so the
///     round trip holds no edge work.
/// (2) Throughput: 1, 4, 8 concurrent edge clients (proactive on) each generating a reply; tokens/s over the wall
///     clock, mean accepted draft tokens per step, and the verifier's batch sizes. All processes share 2 cores here.
/// </summary>
public static class ClusterBenchmark
{
    internal static readonly string[] Prompts =
    {
        "The history of the city", "He said that the committee", "In the morning the farmers", "The new law will",
        "She looked at the house and", "The president of the company", "It was the first time that", "Most of the students",
    };

    public static async Task RunAsync(BenchOptions o)
    {
        string target = Path.GetFullPath(o.String("target", "models/demo/target"));
        string draftDir = Path.GetFullPath(o.String("draft", "models/demo/draft"));
        int[] clientCounts = o.Ints("clients", new[] { 1, 4, 8 });
        int maxNew = o.Int("max-new-tokens", 64);
        int overheadSteps = o.Int("steps", 200);
        string outPath = o.String("out", "bench-results/cluster.json");
        TorchSharp.torch.set_num_threads(o.Int("threads", 1));

        var cluster = await BenchCluster.StartAsync(s => { s.TargetModel = target; s.MaxBatch = 8; s.MaxContextTokens = 1024; s.Threads = 0; });
        var client = cluster.Client;
        using var draft = CausalLm.Load(draftDir);
        Console.WriteLine($"cluster up; target {target}, draft {draftDir}; load average {File.ReadAllText("/proc/loadavg").Trim()}");

        // (1) Transport overhead, channel vs direct call, interleaved reply by reply.
        var overhead = new Dictionary<TreeTransport, List<double>> { [TreeTransport.Channel] = new(), [TreeTransport.DirectCall] = new() };
        var roundTrips = new Dictionary<TreeTransport, List<double>> { [TreeTransport.Channel] = new(), [TreeTransport.DirectCall] = new() };
        int run = 0;
        while (overhead[TreeTransport.DirectCall].Count < overheadSteps)
        {
            foreach (var transport in new[] { TreeTransport.Channel, TreeTransport.DirectCall })
            {
                var stats = await ReplyAsync(client, draft, $"bench/overhead-{transport}-{run}", Prompts[run % Prompts.Length], transport, proactive: false, maxNew);
                // Skip each reply's first step: it carries the prefill of the new turn on the verifier's queue.
                for (int i = 1; i < stats.StepMilliseconds.Count; i++)
                {
                    roundTrips[transport].Add(stats.StepMilliseconds[i]);
                    overhead[transport].Add(stats.StepMilliseconds[i] - stats.ServerMilliseconds[i]);
                }
            }
            run++;
        }

        Console.WriteLine();
        Console.WriteLine("Per-step cluster overhead = edge round trip (tree sent -> verdict received) - verifier forward time");
        Console.WriteLine("| transport | steps | round trip p50 ms | overhead p50 ms | overhead p99 ms |");
        Console.WriteLine("|---|---|---|---|---|");
        var overheadRows = new List<object>();
        foreach (var (transport, values) in overhead)
        {
            var row = new { transport = transport.ToString(), steps = values.Count, roundTripP50 = Percentile.Of(roundTrips[transport], 50), p50 = Percentile.Of(values, 50), p99 = Percentile.Of(values, 99) };
            overheadRows.Add(row);
            Console.WriteLine($"| {row.transport} | {row.steps} | {row.roundTripP50:F2} | {row.p50:F3} | {row.p99:F3} |");
        }
        double extra = Percentile.Of(overhead[TreeTransport.Channel], 50) - Percentile.Of(overhead[TreeTransport.DirectCall], 50);
        Console.WriteLine($"channel - direct call (p50): {extra:+0.000;-0.000} ms per step");

        // (2) Throughput with concurrent edge clients.
        Console.WriteLine();
        Console.WriteLine($"| edge clients | tokens | wall s | tokens/s | mean accepted / step | tokens / step | mean verifier batch | proactive hits |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|");
        var throughputRows = new List<object>();
        string silo = cluster.Silos[0].Name;
        var verifier = client.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo, 0).ToString());
        foreach (int clients in clientCounts)
        {
            long before = (await verifier.GetStatsAsync()).Forwards;
            var wall = Stopwatch.StartNew();
            var all = await Task.WhenAll(Enumerable.Range(0, clients).Select(i =>
                ReplyAsync(client, draft, $"bench/load-{clients}-{i}", Prompts[i % Prompts.Length], TreeTransport.Channel, proactive: true, maxNew)));
            wall.Stop();
            var batches = (await verifier.GetStatsAsync()).BatchesSince(before);
            int tokens = all.Sum(s => s.Tokens), steps = all.Sum(s => s.Steps);
            var row = new
            {
                clients, tokens, wallSeconds = wall.Elapsed.TotalSeconds, tokensPerSecond = tokens / wall.Elapsed.TotalSeconds,
                meanAccepted = (double)(tokens - steps) / steps, tokensPerStep = (double)tokens / steps,
                meanBatch = batches.Length == 0 ? 0 : batches.Average(), proactiveHits = all.Sum(s => s.ProactiveHits), proactiveBets = all.Sum(s => s.ProactiveHits + s.ProactiveMisses),
            };
            throughputRows.Add(row);
            Console.WriteLine($"| {clients} | {tokens} | {row.wallSeconds:F2} | {row.tokensPerSecond:F1} | {row.meanAccepted:F2} | {row.tokensPerStep:F2} | {row.meanBatch:F2} | {row.proactiveHits}/{row.proactiveBets} |");
        }

        // (3) Resuming a conversation on a new edge host: attach (fetch state, build a fresh draft state), then the
        //     first verified step of the next reply (includes the draft's catch-up prefill of the whole conversation).
        var resumeRows = new List<object>();
        Console.WriteLine();
        Console.WriteLine("| resume on a new edge | conversation tokens | attach ms | send + first verdict ms |");
        Console.WriteLine("|---|---|---|---|");
        for (int i = 0; i < 3; i++)
        {
            string sessionId = $"bench/load-{clientCounts[^1]}-{i}";
            using var fresh = new EdgeSession(client, draft, sessionId, $"new-edge-{i}", new DraftTreeOptions(), capacity: 2048);
            var attachClock = Stopwatch.StartNew();
            var attachment = await fresh.AttachAsync();
            double attachMs = attachClock.Elapsed.TotalMilliseconds;
            var firstClock = Stopwatch.StartNew();
            double firstMs = double.NaN;
            await fresh.SendAsync("And then");
            await fresh.RunReplyAsync(_ => { if (double.IsNaN(firstMs)) firstMs = firstClock.Elapsed.TotalMilliseconds; });
            await fresh.DetachAsync();
            resumeRows.Add(new { session = sessionId, tokens = attachment.Committed.Length, attachMs, firstVerdictMs = firstMs });
            Console.WriteLine($"| {sessionId} | {attachment.Committed.Length} | {attachMs:F1} | {firstMs:F1} |");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "cluster", target, draft = draftDir, maxNewTokens = maxNew, loadAverage = File.ReadAllText("/proc/loadavg").Trim(),
            overhead = overheadRows, channelMinusDirectP50Ms = extra, throughput = throughputRows, resume = resumeRows,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
        await cluster.StopAllSilosAsync();
        await cluster.DisposeAsync();
    }

    /// <summary>One greedy edge-assisted reply in a fresh conversation, with the edge's per-step statistics.</summary>
    internal static async Task<ReplyStats> ReplyAsync(IClusterClient client, CausalLm draft, string sessionId, string prompt, TreeTransport transport, bool proactive, int maxNew)
    {
        var session = client.GetGrain<ISessionGrain>(sessionId);
        await session.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = maxNew, UseChatTemplate = false });
        using var edge = new EdgeSession(client, draft, sessionId, "bench-" + sessionId, new DraftTreeOptions { Proactive = proactive }, capacity: 2048, transport);
        await edge.AttachAsync();
        await edge.SendAsync(prompt);
        var stats = await edge.RunReplyAsync();
        await edge.DetachAsync();
        return stats;
    }

}
