using System.Diagnostics;
using System.Text.Json;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Fair shares of a verifier between tenants (<c>SpecEdge:FairShares</c>): a quiet tenant's reply alone, then beside a
/// tenant running many long replies at once (its whole quota by default), on a silo that fills forwards in arrival order
/// and on one that fills them round robin across tenants, one after the other in one run. All replies are decoded by the
/// server (no edge), so the verifier's queue is the only thing the tenants share. Reports the quiet tenant's time
/// between tokens (p50/p99) and the slowdown beside the flood; writes JSON.
/// </summary>
public static class FairnessBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        string target = Path.GetFullPath(o.String("target", "models/demo/target"));
        int flood = o.Int("flood", 64), floodTokens = o.Int("flood-tokens", 400), quietTokens = o.Int("quiet-tokens", 48), replies = o.Int("replies", 3);
        int maxBatch = o.Int("max-batch", 8);
        string outPath = o.String("out", "bench-results/fairness.json");
        TorchSharp.torch.set_num_threads(o.Int("threads", 1));
        Console.WriteLine($"fairness: {flood} flooding replies of {floodTokens} tokens vs {replies} quiet replies of {quietTokens}, max batch {maxBatch}; load {File.ReadAllText("/proc/loadavg").Trim()}");

        var rows = new List<object>();
        Console.WriteLine();
        Console.WriteLine("| sharing | quiet ITL p50 alone (ms) | p99 alone | p50 beside the flood | p99 beside the flood | slowdown p50 | slowdown p99 | flood tokens/s |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (bool fair in new[] { false, true })
        {
            var cluster = await BenchCluster.StartAsync(s =>
            {
                s.TargetModel = target; s.MaxBatch = maxBatch; s.MaxContextTokens = 1024; s.Threads = 0; s.KvMemoryMb = 8192;
                s.MaxQueuedSteps = Math.Max(256, 2 * flood); s.FairShares = fair; s.QueueTimeoutSeconds = 300;
            });
            try
            {
                var client = cluster.Client;
                var alone = new List<double>();
                for (int r = 0; r < replies; r++) alone.AddRange(await QuietReplyAsync(client, $"quiet/alone-{fair}-{r}", quietTokens));

                // The flood: every reply started at once, none waited for; the quiet tenant starts once all are going.
                var floodClock = Stopwatch.StartNew();
                var floods = Enumerable.Range(0, flood).Select(i => FloodReplyAsync(client, $"flood/f-{fair}-{i}", floodTokens)).ToList();
                await Task.Delay(TimeSpan.FromSeconds(1));
                var beside = new List<double>();
                for (int r = 0; r < replies; r++) beside.AddRange(await QuietReplyAsync(client, $"quiet/beside-{fair}-{r}", quietTokens));
                int floodTokensDone = (await Task.WhenAll(floods)).Sum();
                double floodRate = floodTokensDone / floodClock.Elapsed.TotalSeconds;

                double a50 = Percentile.Of(alone, 50), a99 = Percentile.Of(alone, 99), b50 = Percentile.Of(beside, 50), b99 = Percentile.Of(beside, 99);
                string name = fair ? "fair (round robin across tenants)" : "arrival order";
                Console.WriteLine($"| {name} | {a50:F1} | {a99:F1} | {b50:F1} | {b99:F1} | x{b50 / a50:F2} | x{b99 / a99:F2} | {floodRate:F0} |");
                rows.Add(new { sharing = fair ? "fair" : "fifo", aloneP50 = a50, aloneP99 = a99, besideP50 = b50, besideP99 = b99, slowdownP50 = b50 / a50, slowdownP99 = b99 / a99, floodTokensPerSecond = floodRate });
            }
            finally
            {
                await cluster.StopAllSilosAsync();
                await cluster.DisposeAsync();
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new { flood, floodTokens, quietTokens, replies, maxBatch, rows }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }

    /// <summary>A server-decoded reply of the quiet tenant: the time between its tokens, as they are streamed (ms per token).</summary>
    private static async Task<List<double>> QuietReplyAsync(IClusterClient client, string id, int tokens)
    {
        var session = client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(new GenerationSettings { Temperature = 0, Seed = 0, MaxNewTokens = tokens, UseChatTemplate = false });
        await session.SendUserMessageAsync(ClusterBenchmark.Prompts[Math.Abs(id.GetHashCode()) % ClusterBenchmark.Prompts.Length]);
        var gaps = new List<double>();
        var clock = Stopwatch.StartNew();
        double? last = null;
        await foreach (var chunk in session.StreamReplyAsync(0))
        {
            double now = clock.Elapsed.TotalMilliseconds;
            // From the first token on: the time to the first token is the prefill, not an inter-token gap.
            if (last is { } before && chunk.Tokens.Length > 0) gaps.Add((now - before) / chunk.Tokens.Length);
            if (chunk.Tokens.Length > 0) last = now;
            if (chunk.Final) break;
        }
        return gaps;
    }

    /// <summary>A long server-decoded reply of the flooding tenant; its token count once it ends.</summary>
    private static async Task<int> FloodReplyAsync(IClusterClient client, string id, int tokens)
    {
        var session = client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(new GenerationSettings { Temperature = 0, Seed = 0, MaxNewTokens = tokens, UseChatTemplate = false });
        await session.SendUserMessageAsync(string.Join(' ', Enumerable.Repeat("The history of the city", 4)));
        int count = 0;
        await foreach (var chunk in session.StreamReplyAsync(0))
        {
            count += chunk.Tokens.Length;
            if (chunk.Final) break;
        }
        return count;
    }
}
