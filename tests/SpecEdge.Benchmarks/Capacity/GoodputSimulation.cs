using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The roofline projection of goodput trimming (issue 22): the capacity simulator on A100 and H200 with Qwen3-14B and
/// Qwen3-1.7B edges on RTX 4090s, 1-256 sessions, the batch limited by KV memory only, and edge-assisted SD with its
/// trees trimmed by the verifier's own rule (<see cref="SpecEdge.Inference.Speculative.GoodputCut"/>). No calibration on
/// this machine (the capacity benchmark does that): published hardware peaks, the stated acceptance model and the trim
/// curve measured on the demo pair. Prints the tables and the goals, writes JSON and a plot beside capacity.png.
/// </summary>
public static class GoodputSimulation
{
    public static void Run(BenchOptions o)
    {
        int[] sessions = o.Ints("sessions", new[] { 1, 2, 4, 8, 16, 32, 64, 128, 256 });
        double alpha = o.Double("alpha", 0.8), itlTargetMs = o.Double("itl-target-ms", 50), launchUsPerLayer = o.Double("launch-us-per-layer", 50);
        double rttMs = o.Double("rtt-ms", 14);
        int prompt = o.Int("prompt", 256), reply = o.Int("reply", 256), maxBatch = o.Int("max-batch", 0), replies = o.Int("replies", 2), seed = o.Int("seed", 1);
        // The silo's default (SpecEdge:HandBackSteps); 0 projects trimming alone.
        var silo = new SpecEdge.Grains.Hosting.SpecEdgeSiloOptions();
        int handBack = o.Int("hand-back-steps", silo.HandBackSteps);
        double handBackMs = o.Double("hand-back-max-ms", silo.HandBackMaxMilliseconds);
        bool decodeWhileEdgeDrafts = o.String("decode-while-edge-drafts", silo.DecodeWhileEdgeDrafts ? "true" : "false") == "true";
        // Replies of unequal length (e.g. 0.5: 128 to 384 tokens), so sessions do not stay in lockstep; 0: all alike.
        double replySpread = o.Double("reply-spread", 0);
        string outPath = o.String("out", "bench-results/goodput-sim.json"), plotPath = o.String("plot", "bench-results/goodput-sim.png");
        var tree = new SpecEdge.Inference.Speculative.DraftTreeOptions();
        double hitRate = o.Double("proactive-hit-rate", Math.Pow(alpha, tree.MaxDepth + 1));
        var acceptance = AcceptanceModel.PerDepth(alpha, tree.MaxDepth);
        var trim = TrimCurve.DemoPair(tree.Budget);
        Console.WriteLine($"goodput-sim: {acceptance.Description}; trim curve ({trim.Description}): " +
            string.Join(", ", new[] { 1, 2, 4, 8, 16, 32 }.Select(k => string.Create(CultureInfo.InvariantCulture, $"{k} nodes {trim.Share[k]:P0}"))));
        var projections = new[] { HardwareSpec.A100Sxm80, HardwareSpec.H200Sxm }.Select(server => RooflineProjection.Run(
            new ProjectionSetting(server, HardwareSpec.Rtx4090, ModelShape.Qwen3_14B, ModelShape.Qwen3_1_7B, rttMs / 1000, acceptance,
                prompt, reply, tree.Budget, tree.MaxDepth, maxBatch, launchUsPerLayer * 1e-6, hitRate, trim, handBack, handBackMs / 1000, replySpread, decodeWhileEdgeDrafts), sessions, replies, itlTargetMs, seed)).ToList();
        CapacityPlot.Save(projections, plotPath);

        var report = new StringBuilder();
        foreach (var p in projections)
        {
            report.AppendLine(p.Table());
            report.AppendLine(Goals(p, RooflineProjection.Trimmed.Mode));
            if (handBack > 0)
            {
                report.AppendLine(Goals(p, RooflineProjection.TrimmedHandBack.Mode));
                report.AppendLine(Goals(p, RooflineProjection.TrimmedHandBackDrafted.Mode));
                report.AppendLine(Goals(p, RooflineProjection.TrimmedHandBackBatchDrafted.Mode));
            }
        }
        Console.WriteLine(report);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "goodput-sim", date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture), alpha, rtt_ms = rttMs, prompt, reply,
            max_batch = maxBatch, reply_spread = replySpread, hand_back_steps = handBack, hand_back_max_ms = handBackMs, itl_target_ms = itlTargetMs, trim_curve = trim.Share, trim_source = trim.Description,
            projections = projections.Select(p => new
            {
                server = p.Setting.Server.Name,
                sessions_per_gpu = p.SessionsPerGpu.ToDictionary(kv => kv.Key, kv => new { by_itl = kv.Value.ByItl, by_memory = kv.Value.ByMemory }),
                rows = p.Rows.Select(r => new
                {
                    r.Mode, r.Sessions, tokens_per_second = r.Result.SteadyTokensPerSecond, itl_mean_ms = r.Result.ItlMeanMs, itl_p95_ms = r.Result.ItlP95Ms,
                    mean_batch = r.Result.MeanBatch, tokens_per_step = r.Result.TokensPerStep,
                }),
            }),
            report = report.ToString(),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath} and {plotPath}");
    }

    /// <summary>The issue's goals, checked row by row: trimmed edge-assisted throughput against the better of AR and server-only SD, and sessions per GPU.</summary>
    private static string Goals(RooflineProjection p, string mode)
    {
        var s = new StringBuilder();
        var i = CultureInfo.InvariantCulture;
        s.AppendLine(i, $"{p.Setting.Server.Name}: {mode} against max(target-only AR, server-only SD), server tokens/s:");
        int met = 0, rows = 0;
        foreach (var group in p.Rows.GroupBy(r => r.Sessions))
        {
            double ar = group.Single(r => r.Mode == "target-only AR").Result.SteadyTokensPerSecond;
            double sd = group.Single(r => r.Mode == "server-only SD").Result.SteadyTokensPerSecond;
            double whole = group.Single(r => r.Mode == "edge-assisted SD").Result.SteadyTokensPerSecond;
            double trimmed = group.Single(r => r.Mode == mode).Result.SteadyTokensPerSecond;
            bool ok = trimmed >= Math.Max(ar, sd) * 0.995;
            met += ok ? 1 : 0;
            rows++;
            s.AppendLine(i, $"  {group.Key,3} sessions: this mode {trimmed,7:F0}, whole trees {whole,7:F0}, AR {ar,7:F0}, server SD {sd,7:F0}: x{trimmed / Math.Max(ar, sd):F2} of the better {(ok ? "(met)" : "(NOT met)")}");
        }
        var perGpu = p.SessionsPerGpu;
        int trimmedSessions = perGpu[mode].ByItl, arSessions = perGpu["target-only AR"].ByItl;
        s.AppendLine(i, $"  goal throughput >= max(AR, server SD): met at {met} of {rows} session counts; sessions per GPU at ITL <= {p.ItlTargetMs:F0} ms: " +
            $"this mode {trimmedSessions}, whole trees {perGpu["edge-assisted SD"].ByItl}, AR {arSessions}, server SD {perGpu["server-only SD"].ByItl} " +
            $"({(trimmedSessions >= arSessions ? "met" : "NOT met")})");
        return s.ToString();
    }
}
