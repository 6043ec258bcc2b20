using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Fair shares of a verifier between tenants (<c>SpecEdge:FairShares</c>, <c>SpecEdge:FairForwardStretch</c>): a quiet
/// tenant's reply alone, then beside a tenant running many long replies at once (its whole quota by default), on a silo
/// that fills forwards in arrival order, then on silos that fill them round robin across tenants with each forward's
/// cost bounded by each of <c>--stretches</c> (0: filled up to MaxBatch), one after the other in one run. All replies
/// are decoded by the server (no edge), so the verifier's queue is the only thing the tenants share. Reports the quiet
/// tenant's time between tokens (p50/p99), the slowdown beside the flood, and the flood's tokens/s over its whole run
/// and while the quiet tenant was replying (what the bound costs it); writes JSON.
/// </summary>
public static class FairnessBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        string target = Path.GetFullPath(o.String("target", "models/demo/target"));
        // A target whose forwards, not the silo's per-step work, take most of a step (as on a real server).
        if (o.String("wide-target", "false") == "true") target = WideTarget(target);
        int flood = o.Int("flood", 64), floodTokens = o.Int("flood-tokens", 400), quietTokens = o.Int("quiet-tokens", 48), replies = o.Int("replies", 3);
        int maxBatch = o.Int("max-batch", 8);
        double[] stretches = o.Doubles("stretches", new[] { 0, 1.25, 2 });
        string outPath = o.String("out", "bench-results/fairness.json");
        TorchSharp.torch.set_num_threads(o.Int("threads", 1));
        Console.WriteLine($"fairness: {flood} flooding replies of {floodTokens} tokens vs {replies} quiet replies of {quietTokens}, max batch {maxBatch}; load {File.ReadAllText("/proc/loadavg").Trim()}");

        var rows = new List<object>();
        Console.WriteLine();
        Console.WriteLine("| sharing | quiet ITL p50 alone (ms) | p99 alone | p50 beside the flood | p99 beside the flood | slowdown p50 | slowdown p99 | flood tokens/s | flood tokens/s while quiet replies |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var setups = new List<(bool Fair, double Stretch)> { (false, 0) };
        setups.AddRange(stretches.Select(x => (true, x)));
        foreach (var (fair, stretch) in setups)
        {
            var cluster = await BenchCluster.StartAsync(s =>
            {
                s.TargetModel = target; s.MaxBatch = maxBatch; s.MaxContextTokens = 1024; s.Threads = 0; s.KvMemoryMb = 8192;
                s.MaxQueuedSteps = Math.Max(256, 2 * flood); s.FairShares = fair; s.QueueTimeoutSeconds = 300;
                s.FairForwardStretch = stretch;
            });
            try
            {
                var client = cluster.Client;
                var alone = new List<double>();
                for (int r = 0; r < replies; r++) alone.AddRange(await QuietReplyAsync(client, $"quiet/alone-{fair}-{r}", quietTokens));

                // The flood: every reply started at once, none waited for; the quiet tenant starts once all are going.
                var floodClock = Stopwatch.StartNew();
                var streamed = new StrongBox<long>();
                string tag = $"{fair}-{stretch}";
                var floods = Enumerable.Range(0, flood).Select(i => FloodReplyAsync(client, $"flood/f-{tag}-{i}", floodTokens, streamed)).ToList();
                await Task.Delay(TimeSpan.FromSeconds(1));
                var beside = new List<double>();
                long floodBefore = Interlocked.Read(ref streamed.Value);
                var quietClock = Stopwatch.StartNew();
                for (int r = 0; r < replies; r++) beside.AddRange(await QuietReplyAsync(client, $"quiet/beside-{tag}-{r}", quietTokens));
                double floodWhileQuiet = (Interlocked.Read(ref streamed.Value) - floodBefore) / quietClock.Elapsed.TotalSeconds;
                int floodTokensDone = (await Task.WhenAll(floods)).Sum();
                double floodRate = floodTokensDone / floodClock.Elapsed.TotalSeconds;

                double a50 = Percentile.Of(alone, 50), a99 = Percentile.Of(alone, 99), b50 = Percentile.Of(beside, 50), b99 = Percentile.Of(beside, 99);
                string name = !fair ? "arrival order" : stretch == 0 ? "round robin, forwards filled to max batch" : $"round robin, forward cost <= {stretch:0.##} x one round";
                Console.WriteLine($"| {name} | {a50:F1} | {a99:F1} | {b50:F1} | {b99:F1} | x{b50 / a50:F2} | x{b99 / a99:F2} | {floodRate:F0} | {floodWhileQuiet:F0} |");
                rows.Add(new { sharing = fair ? "fair" : "fifo", fairForwardStretch = stretch, aloneP50 = a50, aloneP99 = a99, besideP50 = b50, besideP99 = b99,
                    slowdownP50 = b50 / a50, slowdownP99 = b99 / a99, floodTokensPerSecond = floodRate, floodTokensPerSecondWhileQuietReplies = floodWhileQuiet });
            }
            finally
            {
                await cluster.StopAllSilosAsync();
                await cluster.DisposeAsync();
            }
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new { date = DateTime.UtcNow.ToString("u"), flood, floodTokens, quietTokens, replies, maxBatch, stretches, rows }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }

    /// <summary>
    /// A random-weight target 8.6 times as wide as the demo's (<see cref="RandomModels.Qwen3D512"/>'s shape, the demo's
    /// vocabulary and tokenizer), written once to a temporary directory: on 2 cores the demo target's forward is a
    /// fraction of a step's host work, so a benchmark of what forwards cost would measure the host instead.
    /// </summary>
    private static string WideTarget(string demo)
    {
        string dir = Path.Combine(Path.GetTempPath(), "specedge-wide-target");
        if (File.Exists(Path.Combine(dir, "model.safetensors"))) return dir;
        var demoConfig = SpecEdge.Inference.Model.ModelConfig.Load(Path.Combine(demo, "config.json"));
        var config = RandomModels.Qwen3D512() with { VocabSize = demoConfig.VocabSize, EosTokenIds = demoConfig.EosTokenIds, BosTokenId = demoConfig.BosTokenId };
        using (var model = new SpecEdge.Inference.Model.CausalLm(config, SpecEdge.Inference.Model.ModelWeights.Random(config, 1, TorchSharp.torch.ScalarType.Float32),
            TorchSharp.torch.ScalarType.Float32, TorchSharp.torch.CPU))
            model.Save(dir);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json" })
            if (File.Exists(Path.Combine(demo, file))) File.Copy(Path.Combine(demo, file), Path.Combine(dir, file), overwrite: true);
        Console.WriteLine($"wide random-weight target written to {dir}");
        return dir;
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
    private static async Task<int> FloodReplyAsync(IClusterClient client, string id, int tokens, StrongBox<long> streamed)
    {
        var session = client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(new GenerationSettings { Temperature = 0, Seed = 0, MaxNewTokens = tokens, UseChatTemplate = false });
        await session.SendUserMessageAsync(string.Join(' ', Enumerable.Repeat("The history of the city", 4)));
        int count = 0;
        await foreach (var chunk in session.StreamReplyAsync(0))
        {
            count += chunk.Tokens.Length;
            Interlocked.Add(ref streamed.Value, chunk.Tokens.Length);
            if (chunk.Final) break;
        }
        return count;
    }
}
