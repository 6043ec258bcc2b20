using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Side-by-side speculative decoding on one model pair and one prompt set: target-only AR, server-only tree SD,
/// edge-assisted SD and edge-assisted SD with proactive drafting, at several batch sizes, greedy. Reports tokens per
/// target forward, acceptance, server and edge compute per token, server throughput, cost with the paper's prices and
/// an emulated inter-token latency (model in <see cref="SpecModeResult"/>), checks that every mode emits the same
/// tokens, and writes JSON.
/// </summary>
public static class SpeculativeBenchmark
{
    public static void Run(BenchOptions o)
    {
        string targetDir = o.String("target", "models/demo/target");
        // --drafts old=DIR,new=DIR compares drafts of one target side by side; --draft DIR measures one.
        var draftDirs = o.String("drafts", "").Length > 0
            ? o.String("drafts", "").Split(',').Select(d => d.Split('=', 2)).Select(p => p.Length == 2 ? (Name: p[0], Dir: p[1]) : (Name: Path.GetFileName(p[0].TrimEnd('/')), Dir: p[0])).ToList()
            : new List<(string Name, string Dir)> { ("draft", o.String("draft", "models/demo/draft")) };
        int[] batches = o.Ints("batches", new[] { 1, 4, 8 });
        int[] rtts = o.Ints("rtt-ms", new[] { 0, 15 });
        int maxNew = o.Int("max-new-tokens", 64), repeats = o.Int("repeats", 3), threads = o.Int("threads", 1);
        string promptSet = o.String("prompt-set", "builtin");
        int promptCount = o.Int("prompts", promptSet == "heldout" ? 24 : BenchmarkPrompts.All.Count);
        bool proactive = o.String("proactive", "true") == "true";
        string outPath = o.String("out", "bench-results/spec.json"), dtype = o.String("dtype", "float32"), format = o.String("format", "raw");
        if (format is not ("raw" or "chat")) throw new ArgumentException($"--format must be raw or chat, not '{format}'.");
        if (promptSet is not ("builtin" or "heldout")) throw new ArgumentException($"--prompt-set must be builtin or heldout, not '{promptSet}'.");
        if (promptSet == "builtin" && (promptCount < 1 || promptCount > BenchmarkPrompts.All.Count))
            throw new ArgumentException($"--prompts must be 1..{BenchmarkPrompts.All.Count}, not {promptCount}.");
        var fixedTree = new DraftTreeOptions { Budget = o.Int("budget", 32), MaxDepth = o.Int("max-depth", 4) };
        // The adaptive policy's ceilings: it may go deeper and wider than the fixed tree when acceptance pays for it.
        var adaptiveTree = new DraftTreeOptions
        {
            Budget = o.Int("adaptive-budget", 48), MaxDepth = o.Int("adaptive-depth", 8),
            Adaptive = new AdaptiveTreeOptions { VerifierTokenKnee = o.Int("verifier-token-knee", 0), NodesPerLevel = o.Double("nodes-per-level", 8) },
        };
        var trees = o.String("trees", "fixed").Split(',').Select(t => t switch
        {
            // The fixed tree's drafts cut to their best N nodes every step: the frontier goodput trimming searches.
            _ when t.StartsWith("forced-", StringComparison.Ordinal) && int.TryParse(t["forced-".Length..], out int n) && n >= 0 => (Name: t, Options: fixedTree),
            "fixed" => (Name: "fixed", Options: fixedTree),
            // The fixed tree's drafts, verified only as far as they pay (TreeTrimmer, as the verifier grain does).
            "goodput" => (Name: "goodput", Options: fixedTree with { Budget = o.Int("goodput-budget", fixedTree.Budget), MaxDepth = o.Int("goodput-depth", fixedTree.MaxDepth) }),
            // The same, told that each step also waits N ms outside the server (a round trip), as an idle verifier knows.
            _ when t.StartsWith("goodput-w", StringComparison.Ordinal) && int.TryParse(t["goodput-w".Length..], out int w) && w >= 0 =>
                (Name: t, Options: fixedTree with { Budget = o.Int("goodput-budget", fixedTree.Budget), MaxDepth = o.Int("goodput-depth", fixedTree.MaxDepth) }),
            // The fixed tree as main had it before the greedy score temperature: paper-style T=1 scores.
            "fixed-t1" => (Name: "fixed-t1", Options: fixedTree with { GreedyScoreTemperature = 1.0 }),
            "adaptive" => (Name: "adaptive", Options: adaptiveTree),
            // The same policy told the verifier's token knee: trees shrink as the batch grows (budget <= knee / batch - 1).
            "adaptive-knee" => (Name: "adaptive-knee", Options: adaptiveTree with { Adaptive = adaptiveTree.Adaptive! with { VerifierTokenKnee = o.Int("knee", 256) } }),
            _ => throw new ArgumentException($"--trees takes fixed, goodput, fixed-t1, adaptive and/or adaptive-knee, not '{t}'."),
        }).ToList();
        foreach (var (_, t) in trees) t.Validate();
        // --variants old:fixed-t1,new:fixed,new:adaptive keeps only these draft:tree pairs of the cross product.
        var only = o.String("variants", "").Length > 0 ? o.String("variants", "").Split(',').ToHashSet() : null;
        if (threads > 0) set_num_threads(threads);
        var total = Stopwatch.StartNew();
        string loadBefore = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

        var tokenizer = HfTokenizer.Load(targetDir);
        using var target = CausalLm.Load(targetDir, dtype);
        var drafts = draftDirs.Select(d => (d.Name, d.Dir, Model: CausalLm.Load(d.Dir, dtype))).ToList();
        // Padding of the forwards' matrix products (CausalLm.RowMultiple): 0 = the device's default, 1 = off.
        target.RowMultiple = o.Int("row-multiple", 0);
        foreach (var d in drafts) d.Model.RowMultiple = target.RowMultiple;
        try
        {
            foreach (var d in drafts)
                if (d.Model.Config.VocabSize != target.Config.VocabSize)
                    throw new InvalidOperationException($"Draft {d.Dir} vocabulary {d.Model.Config.VocabSize} != target vocabulary {target.Config.VocabSize}.");
            var chat = ChatFormat.For(tokenizer);
            var eos = tokenizer.EosTokenIds.Concat(tokenizer.TokenToId(chat.EndOfTurnToken) is int eot ? new[] { eot } : Array.Empty<int>()).ToHashSet();
            var promptTexts = promptSet == "heldout"
                ? HeldOutPrompts.Load(o.String("corpus", HeldOutPrompts.DefaultCorpus), tokenizer, promptCount, o.Int("prompt-tokens", 32))
                    .Select(p => (p.Task, p.Text)).ToList()
                : BenchmarkPrompts.All.Take(promptCount).Select(p => (p.Task, p.Text)).ToList();
            var prompts = promptTexts.Select(p => tokenizer.Encode(format == "chat"
                ? chat.Render(new[] { new ChatMessage("user", p.Text) }, enableThinking: false)
                : p.Text)).ToArray();
            int maxBudget = trees.Max(t => t.Options.Budget);
            int capacity = prompts.Max(p => p.Length) + maxNew + 2 * (maxBudget + 1) + 16;
            var requests = prompts.Select(p => new GenerationRequest(p, SamplingParams.Greedy, new StopCriteria(eos, maxNew))).ToArray();
            long targetParams = target.Weights.All.Sum(t => t.numel());

            Console.WriteLine($"target {targetDir} ({targetParams / 1e6:F2} M params), drafts " +
                string.Join(", ", drafts.Select(d => $"{d.Name}={d.Dir} ({d.Model.Weights.All.Sum(t => t.numel()) / 1e6:F2} M params)")) + $", {dtype}, " +
                $"{get_num_threads()} intra-op thread(s), {prompts.Length} {promptSet} prompts ({format}), max {maxNew} new tokens, greedy, " +
                $"trees {string.Join(", ", trees.Select(t => $"{t.Name} (budget {t.Options.Budget}, depth {t.Options.MaxDepth})"))}, fastest of {repeats} runs; load before: {loadBefore}");

            // The target/draft cost ratio on identical input: a verify-sized chain on a typical prompt-length prefix.
            var ratioPrefix = prompts.OrderBy(p => p.Length).ElementAt(prompts.Length / 2);
            double targetFwdMs = ForwardTimer.MedianMs(target, ratioPrefix, fixedTree.Budget + 1);
            var draftFwdMs = drafts.ToDictionary(d => d.Name, d => ForwardTimer.MedianMs(d.Model, ratioPrefix, fixedTree.Budget + 1));
            // On a CPU a forward costs in proportion to its tokens, unlike a memory-bound GPU: verifying a tree is not free.
            double targetTokenMs = ForwardTimer.MedianMs(target, ratioPrefix, 1);
            Console.WriteLine($"forward of {fixedTree.Budget + 1} tokens on a {ratioPrefix.Length}-token prefix: target {targetFwdMs:F2} ms, " +
                string.Join(", ", draftFwdMs.Select(kv => $"draft {kv.Key} {kv.Value:F2} ms (ratio {targetFwdMs / kv.Value:F2})")) +
                $"; target 1-token forward {targetTokenMs:F2} ms (a {fixedTree.Budget + 1}-node verify costs {targetFwdMs / targetTokenMs:F1} plain decoding steps)");

            var verifier = new TargetVerifier(target);
            var runs = new List<SpecRun>();
            var kinds = proactive ? new[] { DecodeKind.Speculative, DecodeKind.SpeculativeProactive } : new[] { DecodeKind.Speculative };
            foreach (int batch in batches)
            {
                var groups = requests.Chunk(batch).ToArray();
                var variants = new List<(DecodeKind Kind, CausalLm? Draft, DraftTreeOptions Tree, string Variant, string TreeName)> { (DecodeKind.Autoregressive, null, fixedTree, "", "") };
                foreach (var d in drafts)
                    foreach (var t in trees.Where(t => only is null || only.Contains($"{d.Name}:{t.Name}")))
                        foreach (var kind in kinds)
                            variants.Add((kind, d.Model, t.Options, string.Join(", ",
                                new[] { drafts.Count > 1 ? d.Name : "", trees.Count > 1 ? t.Name : "" }.Where(x => x.Length > 0)), t.Name));
                foreach (var (kind, draft, tree, variant, treeName) in variants)
                {
                    // One trimmer per variant and batch, as one verifier per device: the warm-up teaches it the cost line.
                    var trimmer = Trimmer(treeName);
                    double waitMs = treeName.StartsWith("goodput-w", StringComparison.Ordinal) ? int.Parse(treeName["goodput-w".Length..], CultureInfo.InvariantCulture) : 0;
                    Execute(verifier, draft, groups[0], kind, tree, capacity, null, trimmer, waitMs);     // warm-up, discarded
                    // Other processes share the cores: of several identical runs keep the least disturbed (fastest) one.
                    SpecRun? best = null;
                    for (int r = 0; r < repeats; r++)
                    {
                        var timings = new DecodeTimings();
                        var results = groups.SelectMany(g => Execute(verifier, draft, g, kind, tree, capacity, timings, trimmer, waitMs)).ToArray();
                        var run = new SpecRun(kind, batch, results.Select(x => x.Tokens).ToArray(), results.Sum(x => x.TargetForwards),
                            results.Sum(x => x.ProactiveHits), results.Sum(x => x.ProactiveMisses), timings, variant);
                        if (best is null || run.ComputeSeconds < best.ComputeSeconds) best = run;
                    }
                    if (kind != DecodeKind.Autoregressive)
                        // The server's share alone, fastest of as many replays as runs (see TargetReplay).
                        best!.Replay = Enumerable.Range(0, repeats).Select(_ => TargetReplay.Run(verifier, best.Timings)).MinBy(r => r.Seconds);
                    runs.Add(best!);
                    Console.WriteLine($"  batch {batch,2} {kind,-20} {variant,-18} {best!.ComputeSeconds,7:F2} s (fastest of {repeats}), " +
                        (best.Replay is { } replay ? $"target alone {replay.Seconds:F2} s (in the run {best.Timings.TargetSeconds:F2} s), " : "") +
                        $"{(double)best.Tokens / best.SequenceForwards:F2} tok/fwd, {best.MeanTreeNodes:F1} nodes/tree" +
                        (trimmer?.CostLine is { } line ? $", cost line {line.FixedMs:F2} + {line.PerSequenceMs:F3}/seq + {line.PerTokenMs:F4}/token + {line.PerPaddedRowMs:F4}/padded row + {line.MaskedMs:F2} masked ms" : ""));
                }
            }

            var rows = runs.SelectMany(r => r.Kind switch
            {
                DecodeKind.Autoregressive => new[] { new SpecModeResult("target-only AR", DraftPlacement.None, r) },
                DecodeKind.Speculative => new[]
                {
                    new SpecModeResult("server-only SD", DraftPlacement.Server, r),
                    new SpecModeResult("edge-assisted SD", DraftPlacement.Edge, r),
                },
                _ => new[] { new SpecModeResult("edge-assisted SD + proactive", DraftPlacement.Edge, r) },
            }).ToList();
            var mismatches = CheckIdentical(runs);
            string loadAfter = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";

            var table = SpecTable.Render(rows, rtts);
            Console.WriteLine();
            Console.WriteLine(table);
            var headline = SpecTable.Headline(rows);
            Console.WriteLine(headline);
            Console.WriteLine(mismatches.Count == 0
                ? $"LOSSLESS: all modes and batch sizes produced identical tokens for all {prompts.Length} prompts (reference: target-only AR, batch {batches[0]})."
                : $"MISMATCH: {mismatches.Count} prompt/mode/batch outputs differ from target-only AR:\n  " + string.Join("\n  ", mismatches));
            Console.WriteLine($"load before: {loadBefore}; after: {loadAfter}; total {total.Elapsed.TotalSeconds:F0} s");

            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            File.WriteAllText(outPath, JsonSerializer.Serialize(new
            {
                benchmark = "spec", date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
                machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}", load_before = loadBefore, load_after = loadAfter,
                threads = get_num_threads(), repeats, dtype, format, prompt_set = promptSet, max_new_tokens = maxNew, prompts = prompts.Length, batches, rtt_ms = rtts,
                target = targetDir, target_parameters = targetParams,
                drafts = drafts.Select(d => new { name = d.Name, dir = d.Dir, parameters = d.Model.Weights.All.Sum(t => t.numel()), forward_ms = draftFwdMs[d.Name] }),
                trees = trees.Select(t => new { name = t.Name, budget = t.Options.Budget, max_depth = t.Options.MaxDepth, adaptive = t.Options.Adaptive }),
                forward_ms = new { nodes = fixedTree.Budget + 1, prefix = ratioPrefix.Length, target = targetFwdMs, target_one_token = targetTokenMs },
                prices_dollars_per_hour = new { server = SpecModeResult.ServerDollarsPerHour, edge = SpecModeResult.EdgeDollarsPerHour },
                identical_outputs = mismatches.Count == 0, mismatches,
                results = rows.Select(r => new
                {
                    mode = r.Mode, variant = r.Run.Variant, batch = r.Batch, tokens = r.Tokens, tokens_per_target_forward = r.TokensPerForward,
                    accepted_length = r.AcceptedLength, mean_tree_nodes = r.Run.MeanTreeNodes, target_seconds = r.TargetSeconds, draft_seconds = r.DraftSeconds,
                    server_seconds = r.ServerSeconds, edge_seconds = r.EdgeSeconds, server_tokens_per_second = r.ServerThroughput,
                    server_seconds_per_1k_tokens = r.ServerSeconds / r.Tokens * 1000,
                    dollars_per_million_tokens = r.DollarsPerMillionTokens, proactive_hit_rate = r.ProactiveHitRate,
                    inter_token_latency_ms = rtts.ToDictionary(x => x.ToString(CultureInfo.InvariantCulture), x => r.InterTokenLatencyMs(x)),
                }),
                samples = promptTexts.Select((p, i) => new
                {
                    task = p.Task, prompt = p.Text, output = tokenizer.Decode(runs[0].Outputs[i]),
                }),
                table, headline,
            }, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"wrote {outPath}");
        }
        finally
        {
            foreach (var d in drafts) d.Model.Dispose();
        }
    }

    /// <summary>The trimmer a tree variant verifies with: goodput trimming, trees cut to N nodes (forced-N), or none.</summary>
    private static TreeTrimmer? Trimmer(string treeName) => treeName switch
    {
        "goodput" => new TreeTrimmer(),
        _ when treeName.StartsWith("goodput-w", StringComparison.Ordinal) => new TreeTrimmer(),
        _ when treeName.StartsWith("forced-", StringComparison.Ordinal) => new TreeTrimmer { Mode = TrimMode.Forced, ForcedNodes = int.Parse(treeName["forced-".Length..], CultureInfo.InvariantCulture) },
        _ => null,
    };

    private static GenerationResult[] Execute(TargetVerifier verifier, CausalLm? draft, GenerationRequest[] group, DecodeKind kind,
        DraftTreeOptions tree, int capacity, DecodeTimings? timings, TreeTrimmer? trimmer = null, double waitMs = 0) => kind switch
    {
        DecodeKind.Autoregressive => AutoregressiveDecoder.Generate(verifier, group, capacity, timings),
        DecodeKind.Speculative => SpeculativeDecoder.Generate(verifier, draft!, group, tree with { Proactive = false }, capacity, timings, trimmer, waitMs),
        _ => SpeculativeDecoder.Generate(verifier, draft!, group, tree with { Proactive = true }, capacity, timings, trimmer, waitMs),
    };

    // Greedy decoding is lossless: every run must reproduce the first run (target-only AR) token for token.
    private static List<string> CheckIdentical(IReadOnlyList<SpecRun> runs)
    {
        var reference = runs[0];
        var mismatches = new List<string>();
        foreach (var run in runs.Skip(1))
            for (int i = 0; i < reference.Outputs.Length; i++)
            {
                int[] a = reference.Outputs[i], b = run.Outputs[i];
                if (a.SequenceEqual(b)) continue;
                int at = Enumerable.Range(0, Math.Min(a.Length, b.Length)).FirstOrDefault(k => a[k] != b[k], Math.Min(a.Length, b.Length));
                mismatches.Add($"prompt {i}, {run.Kind} {run.Variant} batch {run.Batch}: first difference at token {at} (lengths {a.Length} vs {b.Length})");
            }
        return mismatches;
    }
}
