using System.Text.Json;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Persistence;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What session persistence adds to an edge's step, three in-process clusters side by side in one run (replies
/// interleaved round robin so they share the machine's noise): sessions in memory; in Azure Blob storage (Azurite) with
/// the verdict sent while the step's write runs (the default); and in Azure Blob storage with the verdict held until the
/// write completes (what every step paid before). Per step: the edge's round trip minus the verifier's forward time.
/// </summary>
public static class DurabilityBenchmark
{
    private sealed record Mode(string Name, string Storage, bool Pipelined);

    public static async Task RunAsync(BenchOptions o)
    {
        string target = Path.GetFullPath(o.String("target", "models/demo/target"));
        string draftDir = Path.GetFullPath(o.String("draft", "models/demo/draft"));
        int rounds = o.Int("rounds", 20), maxNew = o.Int("max-new-tokens", 48);
        string outPath = o.String("out", "bench-results/durability.json");
        TorchSharp.torch.set_num_threads(o.Int("threads", 1));

        using var azurite = new AzuriteFixture();
        var modes = new[]
        {
            new Mode("memory", "memory", true),
            new Mode("blob, verdict before write", "blob", true),
            new Mode("blob, verdict after write", "blob", false),
        };
        var clusters = new List<InProcessTestCluster>();
        foreach (var mode in modes)
        {
            string container = "durability-" + Guid.NewGuid().ToString("N")[..8];
            var cluster = await BenchCluster.StartAsync(
                s => { s.TargetModel = target; s.MaxBatch = 8; s.MaxContextTokens = 1024; s.Threads = 0; s.PipelinedStateWrites = mode.Pipelined; },
                silo =>
                {
                    if (mode.Storage == "memory") silo.AddMemoryGrainStorage("sessions");
                    else silo.AddSpecEdgeBlobStorage("sessions", azurite.ConnectionString, container);
                },
                inMemorySessions: false);
            clusters.Add(cluster);
        }
        using var draft = CausalLm.Load(draftDir);
        Console.WriteLine($"{modes.Length} clusters up; target {target}, draft {draftDir}; {rounds} rounds of {maxNew} tokens per mode; load average {File.ReadAllText("/proc/loadavg").Trim()}");

        var overhead = modes.ToDictionary(m => m.Name, _ => new List<double>());
        var roundTrip = modes.ToDictionary(m => m.Name, _ => new List<double>());
        for (int round = 0; round < rounds; round++)
        {
            for (int m = 0; m < modes.Length; m++)
            {
                var stats = await ClusterBenchmark.ReplyAsync(clusters[m].Client, draft, $"bench/durability-{round}", ClusterBenchmark.Prompts[round % ClusterBenchmark.Prompts.Length], TreeTransport.Channel, proactive: false, maxNew);
                // Skip each reply's first step: it carries the prefill of the new turn.
                for (int i = 1; i < stats.StepMilliseconds.Count; i++)
                {
                    roundTrip[modes[m].Name].Add(stats.StepMilliseconds[i]);
                    overhead[modes[m].Name].Add(stats.StepMilliseconds[i] - stats.ServerMilliseconds[i]);
                }
            }
            if ((round + 1) % 5 == 0) Console.WriteLine($"  round {round + 1}/{rounds}");
        }

        Console.WriteLine();
        Console.WriteLine("Per-step overhead = edge round trip (tree sent -> verdict received) - verifier forward time");
        Console.WriteLine("| sessions stored | steps | round trip p50 ms | overhead p50 ms | overhead p99 ms | p50 over memory ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        double memoryP50 = Percentile.Of(overhead[modes[0].Name], 50);
        var rows = new List<object>();
        foreach (var mode in modes)
        {
            var values = overhead[mode.Name];
            var row = new { mode = mode.Name, steps = values.Count, roundTripP50 = Percentile.Of(roundTrip[mode.Name], 50), p50 = Percentile.Of(values, 50), p99 = Percentile.Of(values, 99), overMemoryP50 = Percentile.Of(values, 50) - memoryP50 };
            rows.Add(row);
            Console.WriteLine($"| {row.mode} | {row.steps} | {row.roundTripP50:F2} | {row.p50:F3} | {row.p99:F3} | {row.overMemoryP50:+0.000;-0.000} |");
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "durability", target, draft = draftDir, rounds, maxNewTokens = maxNew, loadAverage = File.ReadAllText("/proc/loadavg").Trim(), modes = rows,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
        foreach (var cluster in clusters)
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }
}
