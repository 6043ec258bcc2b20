using System.Diagnostics;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What splitting the verifying forward at an early exit costs (issue #25, goal: at most 3 % over the unsplit forward):
/// batches of draft trees on a Qwen3-style model with random weights (d512, 10 layers, vocabulary 32k, fp32, as the
/// silo runs it), each forward once unsplit and once split at half depth with the exit head's logits, samples and
/// acceptance computed for every tree (what the verifier does to send early verdicts), and once split with a head that
/// scores a shortlist (1,024 ids plus the trees' own tokens), rotated run by run in this one process. Also the share the
/// exit head adds by arithmetic for a model of another shape (the head is one more vocabulary projection per tree node).
/// </summary>
public static class EarlyExitBenchmark
{
    public static void Run(BenchOptions o)
    {
        var parts = o.String("parts", "split,hits").Split(',').ToHashSet();
        var result = new Dictionary<string, object>();
        if (parts.Contains("hits")) result["hits"] = HitRates(o);
        if (parts.Contains("split")) Split(o, result);
        if (parts.Contains("sim")) result["sim"] = Capacity.EarlyExitSimulation.Run(o);
        if (parts.Contains("bets")) result["bets"] = ProactiveBets(o);
        string outPath = o.String("out", "bench-results/early-exit.json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }

    /// <summary>
    /// How often the edge's proactive bet wins when the verifier verifies only each tree's first k nodes (prefix trimming),
    /// on the demo pair, the soak's 8 prompts, greedy, 48 tokens each: the drafter's own loop, in one process.
    /// </summary>
    private static Dictionary<string, object> ProactiveBets(BenchOptions o)
    {
        string targetDir = o.String("target", "models/demo/target"), draftDir = o.String("draft", "models/demo/draft");
        var tokenizer = SpecEdge.Inference.Tokenization.HfTokenizer.Load(targetDir);
        using var target = CausalLm.Load(targetDir, "float32");
        using var draft = CausalLm.Load(draftDir, "float32");
        var rows = new Dictionary<string, object>();
        Console.WriteLine("\nproactive bets under prefix trimming (demo pair, 8 prompts, greedy, 48 tokens)\n| nodes verified | bets won | tokens / step |\n|---|---:|---:|");
        // Trees whole, cut to their first k nodes, and cut by goodput (the verifier's trimmer, learning its cost line and
        // this sequence's calibration as a silo does, and reordering each tree by it before the cut).
        foreach (int? k in new int?[] { null, 2, 4, 8, -1 })
        {
            int hits = 0, bets = 0, steps = 0, tokens = 0, verifiedNodes = 0, cutSteps = 0;
            var trimmer = new TreeTrimmer();   // one device: its cost line carries over, each conversation's calibration does not
            foreach (var text in SoakPrompts.All)
            {
                var prompt = tokenizer.Encode(text, parseSpecialTokens: false);
                var verifier = new TargetVerifier(target);
                using var sequence = verifier.Start(prompt, SamplingParams.Greedy, new StopCriteria(Array.Empty<int>(), o.Int("max-new-tokens", 48)), 512);
                var options = new DraftTreeOptions { GreedyVerification = true };
                using var drafter = new TreeDrafter(draft, prompt, options, 512 + options.DraftCacheHeadroom);
                trimmer.Forget("s");
                while (!sequence.Finished)
                {
                    var tree = drafter.BuildTree();
                    drafter.PreDraft();
                    var rule = k is > 0 and int n ? new TrimRule(null, new Dictionary<string, double[]?>(), n) : k is null ? TrimRule.None : trimmer.Rule(new[] { "s" });
                    var (ran, verified) = rule.Apply([("s", new VerifyWork(sequence, tree))]);
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    var verdict = verifier.Execute(ran)[0].VerdictOrThrow();
                    trimmer.ObserveForward(ForwardShape.Of(ran), clock.Elapsed.TotalMilliseconds);
                    trimmer.ObserveVerdict("s", tree, verdict);
                    drafter.Complete(verdict, new VerifierLoad(1, 0, 0, 0, verified[0]));
                    steps++;
                    tokens += verdict.AcceptedTokens.Length;
                    if (verified[0] >= 0) { verifiedNodes += verified[0]; cutSteps++; }
                }
                hits += drafter.ProactiveHits;
                bets += drafter.ProactiveHits + drafter.ProactiveMisses;
            }
            string name = k is -1 ? $"goodput (cut steps: {cutSteps} of {steps}, {(double)verifiedNodes / Math.Max(1, cutSteps):F1} nodes)" : k?.ToString() ?? "whole tree";
            Console.WriteLine($"| {name} | {hits}/{bets} ({100.0 * hits / Math.Max(1, bets):F1} %) | {(double)tokens / steps:F2} |");
            rows[name] = new { hits, bets, tokens_per_step = (double)tokens / steps };
        }
        return rows;
    }

    /// <summary>
    /// How often an early verdict is the final one (the step an edge could have drafted ahead for), against how often
    /// the proactive bet (the draft's own guess of the verdict) is right, on the demo pair with its shipped exit head and
    /// held-out prompts, greedy, the same trees verified either way (early verdicts change nothing else).
    /// </summary>
    private static Dictionary<string, object> HitRates(BenchOptions o)
    {
        string targetDir = o.String("target", "models/demo/target"), draftDir = o.String("draft", "models/demo/draft");
        var tokenizer = SpecEdge.Inference.Tokenization.HfTokenizer.Load(targetDir);
        using var target = CausalLm.Load(targetDir, "float32");
        using var draft = CausalLm.Load(draftDir, "float32");
        using var exit = EarlyExitHead.Load(targetDir, target.Config, ScalarType.Float32, CPU)
            ?? throw new InvalidOperationException($"{targetDir} has no early-exit head: SpecEdge.Tools distill --target {targetDir} --early-exit-layer 2");
        var prompts = HeldOutPrompts.Load(o.String("corpus", HeldOutPrompts.DefaultCorpus), tokenizer, o.Int("prompts", 16), 32);
        var stop = new StopCriteria(tokenizer.EosTokenIds, o.Int("max-new-tokens", 64));
        var requests = prompts.Select(p => new GenerationRequest(p.Ids, SamplingParams.Greedy, stop)).ToArray();
        var rows = new List<Dictionary<string, object>>();
        Console.WriteLine($"\nearly verdicts on the demo pair (exit after layer {exit.Layer}, {requests.Length} held-out prompts, greedy)\n| head | trees | early = final | early path = final path | final tokens early got (prefix) | tokens/forward | proactive bet right |\n|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, head) in new[] { ("full vocabulary", new EarlyExitHead(exit.Layer, exit.Norm, exit.LmHead, exit.RmsNormEps)), ($"shortlist ({exit.Shortlist?.Length ?? 0})", exit) })
        {
            if (name.StartsWith("shortlist") && exit.Shortlist is null) continue;
            // Each early verdict with where its step began; the step's final tokens are what the sequence committed from
            // there to the next step's start (its committed tokens outlive the decoder).
            var early = new Dictionary<TargetSequence, List<(int Start, int[] Tokens)>>(ReferenceEqualityComparer.Instance);
            var verifier = new TargetVerifier(target)
            {
                ExitHead = head,
                EarlyVerdicts = (s, v) => (early.TryGetValue(s, out var list) ? list : early[s] = new()).Add((s.Committed.Count, v.AcceptedTokens)),
            };
            var results = SpeculativeDecoder.Generate(verifier, draft, requests, new DraftTreeOptions { Budget = 32, Proactive = true }, 2048);
            int trees = 0, hits = 0, pathHits = 0;
            long commonTokens = 0, finalTokens = 0;
            foreach (var (sequence, steps) in early)
                for (int i = 0; i < steps.Count; i++)
                {
                    int end = i + 1 < steps.Count ? steps[i + 1].Start : sequence.Committed.Count;
                    trees++;
                    var final = sequence.Committed.Skip(steps[i].Start).Take(end - steps[i].Start).ToArray();
                    if (final.SequenceEqual(steps[i].Tokens)) hits++;
                    if (final.Length > 0 && final[..^1].SequenceEqual(steps[i].Tokens[..^1])) pathHits++;
                    int common = 0;
                    while (common < Math.Min(final.Length, steps[i].Tokens.Length) && final[common] == steps[i].Tokens[common]) common++;
                    commonTokens += common;
                    finalTokens += final.Length;
                }
            int proactiveHits = results.Sum(r => r.ProactiveHits), proactiveBets = proactiveHits + results.Sum(r => r.ProactiveMisses);
            double tpf = (double)results.Sum(r => r.Tokens.Length) / results.Sum(r => r.TargetForwards);
            rows.Add(new()
            {
                ["head"] = name, ["trees"] = trees, ["early_equals_final"] = Math.Round((double)hits / Math.Max(1, trees), 4),
                ["early_path_equals_final_path"] = Math.Round((double)pathHits / Math.Max(1, trees), 4),
                ["final_tokens_early_got_as_prefix"] = Math.Round((double)commonTokens / Math.Max(1, finalTokens), 4),
                ["tokens_per_forward"] = Math.Round(tpf, 3), ["proactive_bet_right"] = Math.Round((double)proactiveHits / Math.Max(1, proactiveBets), 4),
            });
            Console.WriteLine($"| {name} | {trees} | {(double)hits / Math.Max(1, trees):P1} | {(double)pathHits / Math.Max(1, trees):P1} | {(double)commonTokens / Math.Max(1, finalTokens):P1} | {tpf:F2} | {(double)proactiveHits / Math.Max(1, proactiveBets):P1} |");
        }
        return new Dictionary<string, object> { ["exit_layer"] = exit.Layer, ["prompts"] = requests.Length, ["rows"] = rows };
    }

    private static void Split(BenchOptions o, Dictionary<string, object> result)
    {
        int repeats = o.Int("repeats", 9), prefix = o.Int("prefix", 512), treeSize = o.Int("tree", 32), threads = o.Int("threads", 0);
        var batches = o.Ints("batches", [1, 4, 8]);
        if (threads > 0) set_num_threads(threads);
        var config = RandomModels.Qwen3D512();
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"early-exit: {get_num_threads()} intra-op thread(s), qwen3 d{config.HiddenSize} x{config.NumHiddenLayers}, vocab {config.VocabSize}, fp32; load before: {load}");
        using var weights = ModelWeights.Random(config, 1, ScalarType.Float32);
        using var model = new CausalLm(config, weights, ScalarType.Float32, CPU);
        using var head = EarlyExitHead.FromFinalLayer(model, config.NumHiddenLayers / 2);
        int shortlistSize = o.Int("shortlist", 1024);
        // Random weights have no frequent tokens: any 1,024 ids cost the same.
        var shortlisted = new EarlyExitHead(head.Layer, head.Norm, head.LmHead, head.RmsNormEps) { Shortlist = Enumerable.Range(0, shortlistSize).ToArray() };
        var random = new Random(1);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => random.Next(config.VocabSize)).ToArray();
        var rows = new List<Dictionary<string, object>>();
        Console.WriteLine($"\n| trees x nodes (prefix {prefix}) | unsplit ms | split ms | split / unsplit | split, {shortlistSize}-token shortlist ms | shortlist / unsplit |\n|---|---:|---:|---:|---:|---:|");
        foreach (int batch in batches)
        {
            var caches = Enumerable.Range(0, batch).Select(_ => model.NewCache(prefix + treeSize + 8)).ToArray();
            foreach (var cache in caches) model.Forward(new[] { SequenceInput.Chain(cache, Tokens(prefix), lastLogitOnly: true) })[0].Dispose();
            var trees = Enumerable.Range(0, batch).Select(_ => (Tokens: Tokens(treeSize + 1), Parents: Enumerable.Range(0, treeSize + 1).Select(i => i == 0 ? -1 : random.Next(i)).ToArray())).ToArray();
            var positions = trees.Select(t => TreeLayout.Depths(t.Parents).Select(d => (long)(prefix + d)).ToArray()).ToArray();
            int verdicts = 0;
            void EarlyVerdicts(Tensor?[] exitRows, long[]? columns)
            {
                for (int b = 0; b < batch; b++)
                {
                    var samples = Sampler.SampleRows(exitRows[b]!, SamplingParams.Greedy, positions[b]);
                    if (columns is not null) samples = samples.Select(c => (int)columns[c]).ToArray();
                    if (TreeAcceptance.Accept(trees[b].Parents, trees[b].Tokens, samples).Bonus >= 0) verdicts++;
                }
            }
            var samples = new[] { new List<double>(), new List<double>(), new List<double>() };   // unsplit, full head, shortlist
            for (int r = 0; r < repeats + 2; r++)
                foreach (int kind in new[] { r % 3, (r + 1) % 3, (r + 2) % 3 })   // rotate which goes first
                {
                    var inputs = caches.Select((c, b) => new SequenceInput(c, trees[b].Tokens, trees[b].Parents)).ToArray();
                    var clock = Stopwatch.StartNew();
                    var outputs = kind switch
                    {
                        0 => model.Forward(inputs),
                        1 => model.Forward(inputs, head, EarlyVerdicts),
                        _ => model.Forward(inputs, shortlisted, EarlyVerdicts),
                    };
                    foreach (var t in outputs) t.Dispose();
                    double ms = clock.Elapsed.TotalMilliseconds;
                    foreach (var c in caches) c.Truncate(prefix);
                    if (r >= 2) samples[kind].Add(ms);   // two warm-up rounds
                }
            foreach (var c in caches) c.Dispose();
            double u = Median(samples[0]), s = Median(samples[1]), sl = Median(samples[2]);
            rows.Add(new()
            {
                ["trees"] = batch, ["nodes"] = treeSize + 1, ["unsplit_ms"] = u, ["split_ms"] = s, ["split_over_unsplit"] = Math.Round(s / u, 3),
                ["split_shortlist_ms"] = sl, ["shortlist_over_unsplit"] = Math.Round(sl / u, 3), ["shortlist_size"] = shortlistSize, ["early_verdicts"] = verdicts,
            });
            Console.WriteLine($"| {batch} x {treeSize + 1} | {u:F1} | {s:F1} | {s / u:F3} | {sl:F1} | {sl / u:F3} |");
        }

        // The exit head is one more vocabulary projection per tree node: its share of a forward's weights by shape.
        var shapes = new (string Name, double Vocab, double Hidden, double NonEmbeddingParams)[]
        {
            ("this benchmark's model (d512 x10, 32k)", config.VocabSize, config.HiddenSize, 10 * (4.0 * 512 * 512 * 0.75 + 3.0 * 512 * 1536)),
            ("demo target (d256 x4, 2k)", 2048, 256, 4 * (4.0 * 256 * 256 * 0.75 + 3.0 * 256 * 768)),
            ("Qwen3-14B (d5120 x40, 152k)", 151936, 5120, 13.2e9),
        };
        var analytic = shapes.Select(x => new Dictionary<string, object>
        {
            ["model"] = x.Name, ["exit_head_share_of_forward"] = Math.Round(x.Vocab * x.Hidden / (x.NonEmbeddingParams + x.Vocab * x.Hidden), 4),
            ["shortlist_head_share_of_forward"] = Math.Round(Math.Min(x.Vocab, shortlistSize + treeSize + 1) * x.Hidden / (x.NonEmbeddingParams + x.Vocab * x.Hidden), 5),
        }).ToList();
        Console.WriteLine($"\nexit head as a share of a forward's weight work: full vocabulary / {shortlistSize}-token shortlist (+ a tree's tokens):");
        foreach (var a in analytic) Console.WriteLine($"  {a["model"]}: {(double)a["exit_head_share_of_forward"]:P1} / {(double)a["shortlist_head_share_of_forward"]:P2}");

        result["split"] = new { threads = get_num_threads(), repeats, prefix, load_before = load, rows, analytic };
    }


    private static double Median(List<double> samples) => Math.Round(Percentile.Of(samples, 50), 2);
}
