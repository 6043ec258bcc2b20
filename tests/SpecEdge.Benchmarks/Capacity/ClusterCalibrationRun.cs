using System.Diagnostics;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The core of the cluster benchmark's throughput table, run in the capacity command's process: one in-process silo
/// (real Orleans, loopback TCP to its gateway, memory storage) with the demo target, max batch 8, and 1, 4, 8 concurrent
/// edge clients (the edge host's <see cref="EdgeSession"/>, the demo draft), greedy, 64 new tokens, everything on this
/// machine's cores. Proactive drafting is OFF (the simulator does not model it; the cluster benchmark runs it on).
/// First a single-client calibration phase (its own conversations) measures what is not forward compute, per step:
/// the cluster's overhead (edge round trip minus the verifier's forward time), which becomes the simulated round trip;
/// the edge's own time (tree build + verdict handling), which becomes the simulated draft time; and tokens per step.
/// Then the measured phase, which the simulator predicts.
/// </summary>
public static class ClusterCalibrationRun
{
    /// <summary>
    /// One measured phase. <see cref="CoresObtained"/>: CPU seconds this process got per wall second: with other
    /// engineers' jobs on the same two cores, the share of the machine the cluster actually ran on.
    /// </summary>
    public sealed record Measured(int Clients, int Tokens, double WallSeconds, double ItlMeanMs, double ItlP50Ms, double ItlP95Ms, double TtftP50Ms,
        double TokensPerStep, double MeanBatch, double CoresObtained)
    {
        public double TokensPerSecond => Tokens / WallSeconds;
    }

    public sealed record Result(IReadOnlyList<Measured> Rows, Measured CalibrationPhase, DurationDistribution Overhead, DurationDistribution EdgeStep,
        AcceptanceModel Acceptance, double ServerForwardMs, int MaxBatch, int RepliesPerClient);

    public static async Task<Result> ExecuteAsync(string targetDir, CausalLm draft, int[] clientCounts, int maxNew, int replies, Action<string> log)
    {
        const int maxBatch = 8;
        var cluster = await BenchCluster.StartAsync(s => { s.TargetModel = targetDir; s.MaxBatch = maxBatch; s.MaxContextTokens = 1024; s.Threads = 0; });
        try
        {
            var client = cluster.Client;
            // Calibration phase: one client, every step but each reply's first (which carries the prefill).
            var overhead = new List<double>();
            var edgeStep = new List<double>();
            var serverMs = new List<double>();
            var stepTokens = new List<int>();
            var calibrationReplies = new List<Reply>();
            var cpu = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
            var phase = Stopwatch.StartNew();
            for (int r = 0; r < 4; r++)
            {
                var one = await ReplyAsync(client, draft, $"bench/capacity-calibration-{r}", ClusterBenchmark.Prompts[r % ClusterBenchmark.Prompts.Length], maxNew);
                for (int i = 1; i < one.Stats.StepMilliseconds.Count && i < one.StepGaps.Count; i++)
                {
                    overhead.Add(Math.Max(0, one.Stats.StepMilliseconds[i] - one.Stats.ServerMilliseconds[i]) / 1000);
                    edgeStep.Add(Math.Max(0, one.StepGaps[i] - one.Stats.StepMilliseconds[i] / 1000));
                    serverMs.Add(one.Stats.ServerMilliseconds[i]);
                    stepTokens.Add(one.StepTokens[i]);
                }
                calibrationReplies.Add(one);
            }
            var calibrationPhase = Summarise(1, calibrationReplies, phase.Elapsed.TotalSeconds, batches: new[] { 1.0 },
                (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
            var overheadDistribution = DurationDistribution.Empirical(overhead, "cluster calibration phase, round trip - forward");
            var edgeDistribution = DurationDistribution.Empirical(edgeStep, "cluster calibration phase, edge tree build + verdict handling");
            log($"  cluster calibration (1 client, 4 replies, {overhead.Count} steps): {calibrationPhase.TokensPerSecond:F1} tok/s, ITL mean {calibrationPhase.ItlMeanMs:F2} ms, " +
                $"CPU cores obtained {calibrationPhase.CoresObtained:F2}; overhead p50 {Percentile.Of(overhead, 50) * 1000:F2} ms, edge time per step p50 " +
                $"{Percentile.Of(edgeStep, 50) * 1000:F2} ms, verifier forward p50 {Percentile.Of(serverMs, 50):F2} ms, {stepTokens.Average():F2} tokens/step");

            var verifier = client.GetGrain<IVerifierBatchGrain>(new VerifierKey(cluster.Silos[0].Name, 0).ToString());
            var rows = new List<Measured>();
            foreach (int clients in clientCounts)
            {
                long before = (await verifier.GetStatsAsync()).Forwards;
                var cpuBefore = System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime;
                var wall = Stopwatch.StartNew();
                var all = await Task.WhenAll(Enumerable.Range(0, clients).Select(async i =>
                {
                    var mine = new List<Reply>();
                    for (int r = 0; r < replies; r++)
                        mine.Add(await ReplyAsync(client, draft, $"bench/capacity-{clients}-{i}-{r}", ClusterBenchmark.Prompts[(i + r) % ClusterBenchmark.Prompts.Length], maxNew));
                    return mine;
                }));
                wall.Stop();
                var batches = (await verifier.GetStatsAsync()).BatchesSince(before);
                var row = Summarise(clients, all.SelectMany(x => x).ToList(), wall.Elapsed.TotalSeconds, batches.Select(b => (double)b).ToArray(),
                    (System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds);
                rows.Add(row);
                log($"  cluster: {clients} client(s) x {replies} replies: {row.TokensPerSecond:F1} tok/s, ITL mean {row.ItlMeanMs:F2} ms, mean batch {row.MeanBatch:F2}, CPU cores obtained {row.CoresObtained:F2}");
            }
            return new Result(rows, calibrationPhase, overheadDistribution, edgeDistribution, AcceptanceModel.Measured(stepTokens, "cluster calibration phase"),
                serverMs.Average(), maxBatch, replies);
        }
        finally
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    /// <summary>A reply's statistics; per step (index as in the stats): seconds since the previous verdict (or since sending, for the first) and tokens.</summary>
    private static Measured Summarise(int clients, List<Reply> replies, double wallSeconds, double[] batches, double cpuSeconds)
    {
        var itl = replies.SelectMany(x => x.ItlSeconds).ToList();
        int tokens = replies.Sum(x => x.Stats.Tokens);
        return new Measured(clients, tokens, wallSeconds, itl.Average() * 1000, Percentile.Of(itl, 50) * 1000, Percentile.Of(itl, 95) * 1000,
            Percentile.Of(replies.Select(x => x.TtftSeconds).ToList(), 50) * 1000, (double)tokens / replies.Sum(x => x.Stats.Steps),
            batches.Length == 0 ? 0 : batches.Average(), cpuSeconds / wallSeconds);
    }

    private sealed record Reply(ReplyStats Stats, double TtftSeconds, List<double> ItlSeconds, List<double> StepGaps, List<int> StepTokens);

    /// <summary>One greedy edge-assisted reply in a fresh conversation; TTFT from sending the prompt to the first verdict, then per-step gaps spread over their tokens.</summary>
    private static async Task<Reply> ReplyAsync(IClusterClient client, CausalLm draft, string sessionId, string prompt, int maxNew)
    {
        var session = client.GetGrain<ISessionGrain>(sessionId);
        await session.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = maxNew, UseChatTemplate = false });
        using var edge = new EdgeSession(client, draft, sessionId, "capacity-" + sessionId, new DraftTreeOptions { Proactive = false }, capacity: 2048);
        await edge.AttachAsync();
        var clock = Stopwatch.StartNew();
        await edge.SendAsync(prompt);
        double ttft = double.NaN, last = 0;
        var itl = new List<double>();
        var gaps = new List<double>();
        var counts = new List<int>();
        var stats = await edge.RunReplyAsync(tokens =>
        {
            double now = clock.Elapsed.TotalSeconds;
            if (double.IsNaN(ttft)) ttft = now;
            else for (int i = 0; i < tokens.Length; i++) itl.Add((now - last) / tokens.Length);
            gaps.Add(now - last);
            counts.Add(tokens.Length);
            last = now;
        });
        await edge.DetachAsync();
        return new Reply(stats, ttft, itl, gaps, counts);
    }
}
