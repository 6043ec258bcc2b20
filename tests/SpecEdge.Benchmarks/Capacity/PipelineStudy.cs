using System.Globalization;
using System.Text.Json;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// When does pipeline-aware batching (issue 13, item 3) beat work-conserving batching? The simulator runs both policies
/// (the verifier grain's own <see cref="SpecEdge.Grains.Verification.PipelineBatchPlanner"/> for the pipeline-aware one)
/// in the issue's regime, edges whose draft + round trip is about one verify of half of them, across:
/// <list type="bullet">
/// <item>the verify cost: this CPU's fitted line (a forward costs more with every tree it takes) or a GPU roofline
/// (Qwen3-14B on an A100: a forward of 8 trees costs hardly more than one);</item>
/// <item>jitter: none (every draft and round trip the same, the edges start together) or uniform ± a share;</item>
/// <item>the turnaround (draft + round trip) as a multiple of that verify.</item>
/// </list>
/// Prints a table and writes JSON. Nothing here measures this machine: it says which effects the schedule can have at
/// all, and so what a measurement on 2 cores can and cannot show.
/// </summary>
public static class PipelineStudy
{
    public sealed record Row(string Cost, int Sessions, int MaxBatch, double TurnaroundRatio, double Jitter, double DraftMs, double RttMs, string Policy,
        double TokensPerSecond, double IdleFraction, double BusyFraction, double MeanBatch, double ItlP50Ms, double RatioToWorkConserving);

    public static void Run(BenchOptions o)
    {
        int[] sessions = o.Ints("sessions", new[] { 8, 16 });
        int maxBatchOption = o.Int("max-batch", 0);
        double rttMs = o.Double("rtt-ms", 15);
        double[] ratios = o.String("turnaround-ratios", "0.5,1,2").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        double[] jitters = o.String("jitter", "0,0.1,0.3").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        int seeds = o.Int("seeds", 5), replies = o.Int("replies", 4), replyTokens = o.Int("reply-tokens", 128), promptTokens = o.Int("prompt-tokens", 32);
        double alpha = o.Double("alpha", 0.85);
        // This machine's quiet-run fit (capacity.md, run 10): 3.40 ms + 0.30 ms per sequence + 127 µs per token.
        var cpuFit = o.String("cpu-cost", "3.40,0.30,127").Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
        string outPath = o.String("out", "bench-results/pipeline-sim.json");
        var costs = new (string Name, IVerifyCost Cost)[]
        {
            ($"CPU line ({cpuFit[0]:F2} ms + {cpuFit[1]:F2} ms/seq + {cpuFit[2]:F0} µs/token)", new LinearVerifyCost(cpuFit[0] / 1000, cpuFit[1] / 1000, cpuFit[2] / 1e6, 0)),
            ("GPU roofline (Qwen3-14B, A100)", new RooflineCost(ModelShape.Qwen3_14B, HardwareSpec.A100Sxm80, 50e-6 * ModelShape.Qwen3_14B.Layers)),
        };
        var acceptance = AcceptanceModel.PerDepth(alpha, 4);
        Console.WriteLine($"pipeline-sim: {string.Join("/", sessions)} edges, RTT {rttMs} ms, {acceptance.Description}, {replies} replies of {replyTokens} tokens per edge, " +
            $"{seeds} seeds; turnaround (draft + RTT) = ratio x forward of half the edges' trees");
        Console.WriteLine();
        Console.WriteLine("| verify cost | edges | max batch | turnaround / verify | jitter | draft ms | policy | tokens/s | vs work-conserving | idle fraction | device busy | mean batch | ITL p50 ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        var rows = new List<Row>();
        foreach (var (costName, cost) in costs)
            foreach (int n in sessions)
                foreach (double ratio in ratios)
                    foreach (double jitter in jitters)
                    {
                        int maxBatch = maxBatchOption > 0 ? maxBatchOption : n;
                        int context = promptTokens + replyTokens / 2;
                        double half = cost.Seconds(Enumerable.Repeat(new VerifyItem(33, context), (n + 1) / 2).ToList());
                        double draft = Math.Max(0, ratio * half - rttMs / 1000);
                        double rtt = ratio * half - draft;   // when the RTT alone exceeds the target turnaround, shorten it instead
                        double workConserving = double.NaN;
                        foreach (var policy in new[] { BatchPolicy.WorkConserving, BatchPolicy.PipelineAware })
                        {
                            var results = Enumerable.Range(1, seeds).Select(seed => Simulator.Run(new SimulationConfig
                            {
                                Placement = DraftPlacement.Edge, Sessions = n, Verify = cost, Acceptance = acceptance, MaxBatch = maxBatch, Policy = policy,
                                EdgeDraft = new[] { DurationDistribution.Spread(draft, jitter, "draft") }, RoundTrip = DurationDistribution.Spread(rtt, jitter, "round trip"),
                                PromptTokens = promptTokens, ReplyTokens = replyTokens, RepliesPerSession = replies, IncludePrefill = true, Seed = seed,
                            })).ToList();
                            double tps = results.Average(r => r.SteadyTokensPerSecond);
                            if (policy == BatchPolicy.WorkConserving) workConserving = tps;
                            var row = new Row(costName, n, maxBatch, ratio, jitter, draft * 1000, rtt * 1000, policy == BatchPolicy.WorkConserving ? "work-conserving" : "pipeline-aware",
                                tps, results.Average(r => r.IdleFraction), results.Average(r => r.BusyFraction), results.Average(r => r.MeanBatch),
                                results.Average(r => r.ItlP50Ms), tps / workConserving);
                            rows.Add(row);
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"| {costName} | {n} | {maxBatch} | {ratio:F1} | ±{jitter:P0} | {row.DraftMs:F1} | {row.Policy} | {tps:F0} | x{row.RatioToWorkConserving:F2} | " +
                                $"{row.IdleFraction:P1} | {row.BusyFraction:P0} | {row.MeanBatch:F2} | {row.ItlP50Ms:F1} |"));
                        }
                    }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new { benchmark = "pipeline-sim", date = DateTime.UtcNow.ToString("u"), rttMs, alpha, seeds, rows },
            new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        Console.WriteLine($"wrote {outPath}");
    }
}
