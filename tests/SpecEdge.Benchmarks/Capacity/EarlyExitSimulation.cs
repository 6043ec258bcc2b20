using System.Globalization;
using System.Text;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Early exits projected onto hardware we cannot run here (issue 25, item 5): the capacity simulator on the A100 roofline
/// with Qwen3-14B, Qwen3-1.7B drafts on RTX 4090 edges and on Jetson-class edges (Orin Nano Super), 14 ms RTT, for
/// target-only AR and edge-assisted SD with no bet, the proactive bet, the early verdict, and both. The hit rates are
/// options (defaults: what e2e measured on the demo pair at batch 1, 15 and 50 ms, as shares of all steps: proactive 2.7 %,
/// early 13.9 %, either of the two 18.6 %; docs/benchmarks/early-exit.md), the split's place and price too.
/// </summary>
public static class EarlyExitSimulation
{
    public static Dictionary<string, object> Run(BenchOptions o)
    {
        int[] sessions = o.Ints("sim-sessions", new[] { 1, 4, 16, 64 });
        double alpha = o.Double("alpha", 0.8), rttMs = o.Double("rtt-ms", 14), launchUsPerLayer = o.Double("launch-us-per-layer", 50);
        double proactiveHit = o.Double("proactive-hit-rate", 0.027), earlyHit = o.Double("early-hit-rate", 0.139), bothHit = o.Double("early-hit-rate-with-proactive", 0.186);
        double splitAt = o.Double("split-at", 0.5), overhead = o.Double("split-overhead", 0.03);
        bool stopAtVerdict = o.String("bets-stop-at-verdict", "true") == "true";
        int prompt = o.Int("prompt", 256), reply = o.Int("reply", 256), replies = o.Int("replies", 2), seed = o.Int("seed", 1);
        var tree = new SpecEdge.Inference.Speculative.DraftTreeOptions();
        var acceptance = AcceptanceModel.PerDepth(alpha, tree.MaxDepth);
        var exit = new EarlyExitModel(earlyHit, bothHit, splitAt, overhead);
        var modes = new (string Name, DraftPlacement Placement, bool Proactive, bool Early)[]
        {
            ("target-only AR", DraftPlacement.None, false, false), ("edge-assisted, no bet", DraftPlacement.Edge, false, false),
            ("edge-assisted + proactive", DraftPlacement.Edge, true, false), ("edge-assisted + early exit", DraftPlacement.Edge, false, true),
            ("edge-assisted + proactive + early exit", DraftPlacement.Edge, true, true),
        };
        var i = CultureInfo.InvariantCulture;
        var report = new StringBuilder();
        var rows = new List<object>();
        foreach (var edge in new[] { HardwareSpec.Rtx4090, HardwareSpec.JetsonOrinNanoSuper })
        {
            var setting = new ProjectionSetting(HardwareSpec.A100Sxm80, edge, ModelShape.Qwen3_14B, ModelShape.Qwen3_1_7B, rttMs / 1000, acceptance,
                prompt, reply, tree.Budget, tree.MaxDepth, MaxBatch: 0, launchUsPerLayer * 1e-6, proactiveHit);
            report.AppendLine(i, $"\nA100 + {edge.Name} edges ({edge.BandwidthBytesPerSecond / 1e9:F0} GB/s, {edge.PeakFlopsPerSecond / 1e12:F1} TFLOPS): " +
                $"draft tree {setting.EdgeDraftSeconds * 1000:F1} ms{(stopAtVerdict ? ", bets stop at the verdict" : ", bets drafted to the end")}; RTT {rttMs:F0} ms; {acceptance.Description}; proactive bet won {proactiveHit:P1}; {exit.Description(false)}; with both {bothHit:P1}");
            report.AppendLine("| sessions | mode | ITL mean ms | ITL p50 ms | ITL p95 ms | TTFT p50 ms | server tok/s | tokens/step | vs proactive ITL | vs AR ITL |");
            report.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (int n in sessions)
            {
                var results = modes.Select(m => (m, r: Simulator.Run(setting.Config(m.Placement, m.Proactive, n, replies, seed) with { EarlyExit = m.Early ? exit : null, BetsStopAtVerdict = stopAtVerdict }))).ToList();
                double proactiveItl = results.Single(x => x.m.Name == "edge-assisted + proactive").r.ItlMeanMs, arItl = results[0].r.ItlMeanMs;
                foreach (var (m, r) in results)
                {
                    report.AppendLine(i, $"| {n} | {m.Name} | {r.ItlMeanMs:F1} | {r.ItlP50Ms:F1} | {r.ItlP95Ms:F1} | {r.TtftP50Ms:F0} | {r.SteadyTokensPerSecond:F0} | {r.TokensPerStep:F2} | " +
                        $"{(r.ItlMeanMs / proactiveItl - 1) * 100:+0.0;-0.0} % | {(r.ItlMeanMs / arItl - 1) * 100:+0.0;-0.0} % |");
                    rows.Add(new { edge = edge.Name, sessions = n, mode = m.Name, itl_mean_ms = r.ItlMeanMs, itl_p50_ms = r.ItlP50Ms, itl_p95_ms = r.ItlP95Ms, ttft_p50_ms = r.TtftP50Ms,
                        tokens_per_second = r.SteadyTokensPerSecond, tokens_per_step = r.TokensPerStep });
                }
            }
        }
        // What the early verdict would have to get right to pay: its hit rate swept (a deeper target's exit agrees more),
        // the two bets taken as independent for "both". RTX 4090 edges.
        var sweep = new List<object>();
        var sweepSetting = new ProjectionSetting(HardwareSpec.A100Sxm80, HardwareSpec.Rtx4090, ModelShape.Qwen3_14B, ModelShape.Qwen3_1_7B, rttMs / 1000, acceptance,
            prompt, reply, tree.Budget, tree.MaxDepth, MaxBatch: 0, launchUsPerLayer * 1e-6, proactiveHit);
        report.AppendLine(i, $"\nEarly-verdict hit rate swept (A100 + RTX 4090, both bets independent): mean ITL, and against the proactive bet alone");
        report.AppendLine("| sessions | early hit rate | proactive ITL ms | early exit ITL ms | proactive + early exit ITL ms | early + proactive vs proactive |");
        report.AppendLine("|---:|---:|---:|---:|---:|---:|");
        foreach (int n in sessions.Where(n => n <= 16))
        {
            double proactiveItl = Simulator.Run(sweepSetting.Config(DraftPlacement.Edge, true, n, replies, seed) with { BetsStopAtVerdict = stopAtVerdict }).ItlMeanMs;
            foreach (double h in o.Doubles("early-hit-rates", new[] { earlyHit, 0.4, 0.6, 0.8, 1.0 }))
            {
                var model = exit with { HitRate = h, HitRateWithProactive = h + proactiveHit * (1 - h) };
                double alone = Simulator.Run(sweepSetting.Config(DraftPlacement.Edge, false, n, replies, seed) with { EarlyExit = model, BetsStopAtVerdict = stopAtVerdict }).ItlMeanMs;
                double both = Simulator.Run(sweepSetting.Config(DraftPlacement.Edge, true, n, replies, seed) with { EarlyExit = model, BetsStopAtVerdict = stopAtVerdict }).ItlMeanMs;
                report.AppendLine(i, $"| {n} | {h:P0} | {proactiveItl:F1} | {alone:F1} | {both:F1} | {(both / proactiveItl - 1) * 100:+0.0;-0.0} % |");
                sweep.Add(new { sessions = n, early_hit_rate = h, proactive_itl_ms = proactiveItl, early_itl_ms = alone, both_itl_ms = both });
            }
        }
        Console.WriteLine(report);
        return new Dictionary<string, object>
        {
            ["alpha"] = alpha, ["rtt_ms"] = rttMs, ["proactive_hit_rate"] = proactiveHit, ["early_hit_rate"] = earlyHit, ["early_hit_rate_with_proactive"] = bothHit,
            ["split_at"] = splitAt, ["split_overhead"] = overhead, ["rows"] = rows, ["sweep"] = sweep, ["report"] = report.ToString(),
        };
    }
}
