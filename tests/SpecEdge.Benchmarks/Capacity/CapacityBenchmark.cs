using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Tokenization;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The capacity command: (1) calibrates the simulator on this machine (verify cost fitted to target forwards measured
/// now; acceptance and draft times from a spec run now), (2) predicts the spec run's and a cluster run's MEASURED
/// tokens/s and ITL and prints the error, (3) projects the paper's setting and an H200 with roofline costs, (4) plots
/// throughput and ITL against the number of edges. Prints tables, writes JSON and a PNG.
/// </summary>
public static class CapacityBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        string targetDir = o.String("target", "models/demo/target"), draftDir = o.String("draft", "models/demo/draft");
        int[] batches = o.Ints("batches", new[] { 1, 4, 8 }), rtts = o.Ints("rtt-ms", new[] { 0, 15 }), clients = o.Ints("clients", new[] { 1, 4, 8 });
        int maxNew = o.Int("max-new-tokens", 64), promptCount = o.Int("prompts", BenchmarkPrompts.All.Count), repeats = o.Int("repeats", 3);
        int forwardRounds = o.Int("forward-rounds", 3), clusterReplies = o.Int("cluster-replies", 2), seed = o.Int("seed", 1);
        bool runCluster = o.String("cluster", "true") != "false";
        int[] sessions = o.Ints("sessions", new[] { 1, 2, 4, 8, 16, 32, 64, 128 });
        double alpha = o.Double("alpha", 0.8), itlTargetMs = o.Double("itl-target-ms", 50), launchUsPerLayer = o.Double("launch-us-per-layer", 50);
        double paperRttMs = o.Double("paper-rtt-ms", 14);
        // A won bet needs the whole path to the bet's leaf accepted and the bonus guessed: under the per-depth model,
        // alpha^(depth + 1) (an assumption of this model, not a measured rate).
        double hitRate = o.Double("proactive-hit-rate", Math.Pow(alpha, new SpecEdge.Inference.Speculative.DraftTreeOptions().MaxDepth + 1));
        int prompt = o.Int("projection-prompt", 256), reply = o.Int("projection-reply", 256), projectionBatch = o.Int("projection-max-batch", 0);
        string outPath = o.String("out", "bench-results/capacity.json"), plotPath = o.String("plot", "bench-results/capacity.png");
        if (promptCount < 1 || promptCount > BenchmarkPrompts.All.Count) throw new ArgumentException($"--prompts must be 1..{BenchmarkPrompts.All.Count}, not {promptCount}.");
        if (alpha is < 0 or > 1) throw new ArgumentException($"--alpha is a per-level acceptance probability in [0, 1], not {alpha}.");
        set_num_threads(o.Int("threads", 1));
        var total = Stopwatch.StartNew();
        string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        string loadBefore = Load();
        Console.WriteLine($"capacity: {Environment.ProcessorCount} cores, {get_num_threads()} intra-op thread(s); load before: {loadBefore}");

        var tokenizer = HfTokenizer.Load(targetDir);
        using var target = CausalLm.Load(targetDir, "float32");
        using var draft = CausalLm.Load(draftDir, "float32");
        var chat = ChatFormat.For(tokenizer);
        var eos = tokenizer.EosTokenIds.Concat(tokenizer.TokenToId(chat.EndOfTurnToken) is int eot ? new[] { eot } : Array.Empty<int>()).ToHashSet();
        var prompts = BenchmarkPrompts.All.Take(promptCount).Select(p => tokenizer.Encode(p.Text)).ToArray();

        // (1a) Verify cost: measured forwards of the target, fitted.
        Console.WriteLine("(1) calibration on this machine");
        var tree = new SpecEdge.Inference.Speculative.DraftTreeOptions();
        using var calibration = new VerifyCostCalibration(target, new[] { 1, 2, 4, 8 }, new[] { 1, tree.Budget + 1 }, new[] { 16, 96 });
        // (1b) Acceptance and draft times: a short spec run, which is also what (2) predicts; the forward calibration
        //      runs forwardRounds rounds before each of its rounds, so both see the same load over the same minutes.
        var spec = SpecCalibrationRun.Execute(target, draft, prompts, batches, maxNew, repeats, eos,
            () => { for (int r = 0; r < forwardRounds; r++) calibration.Round(); }, Console.WriteLine);
        foreach (var sample in calibration.Samples)
            Console.WriteLine($"  forward: batch {sample.Batch,2} x {sample.Tokens,2} tokens on {sample.Context,3} context: {sample.MeasuredMs,8:F2} ms (median of {calibration.Rounds})");
        var cost = calibration.Fit();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  verify cost fit: {cost.Fixed * 1000:F3} ms + per sequence {cost.PerSequence * 1000:F3} ms + per token {cost.PerToken * 1e6:F1} us + per token x context {cost.PerTokenContext * 1e9:F2} ns; mean |error| on its samples {calibration.FitError:P1}"));
        Console.WriteLine($"  acceptance: {spec.Acceptance.Description}; draft: {spec.DraftTime.Description}");

        // (2) Predictions of measured figures.
        Console.WriteLine("(2) predicted vs measured");
        var inRunCost = spec.InRunCost();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  in-run verify cost (fitted to the spec run's {spec.VerifySteps.Count} verify steps, diagnostic): {inRunCost.Fixed * 1000:F3} ms + per sequence {inRunCost.PerSequence * 1000:F3} ms + per token {inRunCost.PerToken * 1e6:F1} us + per token x context {inRunCost.PerTokenContext * 1e9:F2} ns"));
        foreach (var g in spec.VerifySteps.GroupBy(v => (v.Batch, v.Tokens)).OrderBy(g => g.Key.Tokens).ThenBy(g => g.Key.Batch))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"    spec-run verify of {g.Key.Batch} x {g.Key.Tokens} tokens: measured mean {g.Average(v => v.MeasuredMs):F2} ms over {g.Count()} steps; forward-timer fit {cost.Seconds(g.First().Items) * 1000:F2} ms"));
        var predictions = SpecPrediction.Predict(spec, cost, inRunCost, rtts, seed);
        ClusterCalibrationRun.Result? cluster = null;
        double clusterPromptTokens = ClusterBenchmark.Prompts.Take(8).Average(p => tokenizer.Encode(p).Length);
        if (runCluster)
        {
            cluster = await ClusterCalibrationRun.ExecuteAsync(Path.GetFullPath(targetDir), draft, clients, maxNew, clusterReplies, Console.WriteLine);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  cluster verifier path: {ClusterPrediction.VerifierPath(cluster, cost, clusterPromptTokens, maxNew).Factor:F2} x the forward-timer fit " +
                $"({cluster.ServerForwardMs:F2} ms mean verifier forward in the calibration phase)"));
            predictions.AddRange(ClusterPrediction.Predict(cluster, cost, inRunCost, clusterPromptTokens, maxNew, Environment.ProcessorCount, seed));
        }

        // (3) Roofline projections.
        Console.WriteLine("(3) roofline projections");
        var acceptance = AcceptanceModel.PerDepth(alpha, tree.MaxDepth);
        var projections = new[] { HardwareSpec.A100Sxm80, HardwareSpec.H200Sxm }.Select(server => RooflineProjection.Run(
            new ProjectionSetting(server, HardwareSpec.Rtx4090, ModelShape.Qwen3_14B, ModelShape.Qwen3_1_7B, paperRttMs / 1000, acceptance,
                prompt, reply, tree.Budget, tree.MaxDepth, projectionBatch, launchUsPerLayer * 1e-6, hitRate, TrimCurve.DemoPair(tree.Budget)), sessions, 4, itlTargetMs, seed)).ToList();

        // (4) The plot.
        CapacityPlot.Save(projections, plotPath);
        string loadAfter = Load();

        var report = new StringBuilder();
        report.AppendLine("Predicted vs measured. Measured: this run. Predicted: the simulator with the verify cost fitted to this run's forward timings");
        report.AppendLine("(A) and, as a diagnostic, to the spec run's own verify steps (B); spec: acceptance and draft times of the spec run; cluster:");
        report.AppendLine("round trip, edge time per step and acceptance of the cluster's single-client calibration phase.");
        report.AppendLine();
        report.AppendLine("| benchmark | setting | figure | measured | predicted A | error A | predicted B | error B |");
        report.AppendLine("|---|---|---|---:|---:|---:|---:|---:|");
        foreach (var p in predictions)
            report.AppendLine(CultureInfo.InvariantCulture, $"| {p.Benchmark} | {p.Setting} | {p.Figure} | {p.Measured:F2} | {p.Predicted:F2} | {p.Error:+0.0%;-0.0%} | {p.PredictedInRunCost:F2} | {p.InRunCostError:+0.0%;-0.0%} |");
        var core = predictions.Where(p => p.Figure.StartsWith("server tok/s") || p.Figure.StartsWith("tokens/s") || p.Figure.StartsWith("ITL ms") || p.Figure == "ITL mean ms").ToList();
        report.AppendLine();
        foreach (var bench in core.Select(p => p.Benchmark).Distinct())
        {
            var mine = core.Where(p => p.Benchmark == bench && !p.Setting.Contains("in-sample")).ToList();
            report.AppendLine(CultureInfo.InvariantCulture, $"{bench}, tokens/s and mean ITL: A {mine.Count(p => Math.Abs(p.Error) <= 0.15)} of {mine.Count} within 15 % " +
                $"(mean |error| {mine.Average(p => Math.Abs(p.Error)):P1}, worst {mine.Max(p => Math.Abs(p.Error)):P1}); B {mine.Count(p => Math.Abs(p.InRunCostError) <= 0.15)} of {mine.Count} " +
                $"(mean |error| {mine.Average(p => Math.Abs(p.InRunCostError)):P1}, worst {mine.Max(p => Math.Abs(p.InRunCostError)):P1})");
        }
        if (cluster is not null)
        {
            var c = cluster.CalibrationPhase;
            var one = cluster.Rows.FirstOrDefault(r => r.Clients == 1);
            report.AppendLine();
            report.AppendLine("Cluster phases as measured (CPU cores obtained = CPU seconds of this process / wall seconds; the simulation assumes " +
                $"all {Environment.ProcessorCount} cores are the cluster's):");
            report.AppendLine();
            report.AppendLine("| phase | clients | tokens | wall s | tokens/s | ITL mean ms | ITL p95 ms | TTFT p50 ms | tokens/step | mean batch | CPU cores obtained |");
            report.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var (name, m) in new[] { ("calibration", c) }.Concat(cluster.Rows.Select(r => ("measured", r))))
                report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {m.Clients} | {m.Tokens} | {m.WallSeconds:F2} | {m.TokensPerSecond:F1} | {m.ItlMeanMs:F2} | {m.ItlP95Ms:F2} | {m.TtftP50Ms:F1} | {m.TokensPerStep:F2} | {m.MeanBatch:F2} | {m.CoresObtained:F2} |");
            if (one is not null)
                report.AppendLine(CultureInfo.InvariantCulture, $"\nRepeatability: one client measured twice in this run (calibration phase, then measured phase, other conversations): " +
                    $"tokens/s {c.TokensPerSecond:F1} vs {one.TokensPerSecond:F1} ({one.TokensPerSecond / c.TokensPerSecond - 1:+0.0%;-0.0%}), ITL mean {c.ItlMeanMs:F2} vs {one.ItlMeanMs:F2} ms.");
        }
        foreach (var projection in projections)
        {
            report.AppendLine();
            report.AppendLine(projection.Table());
            report.AppendLine(projection.Headline());
        }
        Console.WriteLine();
        Console.WriteLine(report);
        Console.WriteLine($"load before: {loadBefore}; after: {loadAfter}; total {total.Elapsed.TotalSeconds:F0} s; wrote {plotPath}");

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "capacity", date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
            machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}", load_before = loadBefore, load_after = loadAfter,
            target = targetDir, draft = draftDir, threads = get_num_threads(),
            verify_cost = new { fixed_ms = cost.Fixed * 1000, per_sequence_ms = cost.PerSequence * 1000, per_token_us = cost.PerToken * 1e6, per_token_context_ns = cost.PerTokenContext * 1e9, fit_error = calibration.FitError,
                samples = calibration.Samples.Select(s => new { s.Batch, s.Tokens, s.Context, s.MeasuredMs, predicted_ms = cost.Seconds(s.Items) * 1000 }) },
            in_run_verify_cost = new { fixed_ms = inRunCost.Fixed * 1000, per_sequence_ms = inRunCost.PerSequence * 1000, per_token_us = inRunCost.PerToken * 1e6, per_token_context_ns = inRunCost.PerTokenContext * 1e9 },
            acceptance = spec.Acceptance.Description, draft_time = spec.DraftTime.Description,
            cluster_calibration = cluster is null ? null : new { overhead = cluster.Overhead.Description, edge_step = cluster.EdgeStep.Description, acceptance = cluster.Acceptance.Description, server_forward_ms = cluster.ServerForwardMs, phase = cluster.CalibrationPhase },
            cluster_measured = cluster?.Rows,
            predictions = predictions.Select(p => new { p.Benchmark, p.Setting, p.Figure, p.Measured, predicted_forward_fit = p.Predicted, error_forward_fit = p.Error, predicted_in_run_fit = p.PredictedInRunCost, error_in_run_fit = p.InRunCostError }),
            projections = projections.Select(p => new
            {
                server = p.Setting.Server.Name, server_source = p.Setting.Server.Source, edge = p.Setting.Edge.Name, edge_source = p.Setting.Edge.Source,
                target = p.Setting.Target, draft_model = p.Setting.Draft, target_parameters = p.Setting.Target.Parameters, draft_parameters = p.Setting.Draft.Parameters,
                rtt_ms = p.Setting.RttSeconds * 1000, acceptance = p.Setting.Acceptance.Description, p.Setting.PromptTokens, p.Setting.ReplyTokens, p.Setting.MaxBatch,
                launch_us_per_layer = p.Setting.LaunchSecondsPerLayer * 1e6, itl_target_ms = p.ItlTargetMs, proactive_hit_rate = p.Setting.ProactiveHitRate,
                sessions_per_gpu = p.SessionsPerGpu.ToDictionary(kv => kv.Key, kv => new { by_itl = kv.Value.ByItl, by_memory = kv.Value.ByMemory }),
                rows = p.Rows.Select(r => new
                {
                    r.Mode, r.Sessions, tokens_per_second = r.Result.SteadyTokensPerSecond, busy_fraction = r.Result.BusyFraction, itl_mean_ms = r.Result.ItlMeanMs,
                    itl_p50_ms = r.Result.ItlP50Ms, itl_p95_ms = r.Result.ItlP95Ms, ttft_p50_ms = r.Result.TtftP50Ms, mean_batch = r.Result.MeanBatch,
                    tokens_per_step = r.Result.TokensPerStep, tokens_per_dollar = r.TokensPerDollar,
                }),
                headline = p.Headline(),
            }),
            report = report.ToString(),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }
}
