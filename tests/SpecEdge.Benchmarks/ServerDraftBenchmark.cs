using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using SpecEdge.Protocol;
using SpecEdge.TestSupport;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What drafting a forward's server trees together costs against drafting them one after another (issue 22: the server's
/// own drafting), on this machine: n server drafters (the silo's fixed tree, 32 nodes, depth 4) over distinct prompts, for
/// each n the time of one pass of n trees drafted together (<see cref="BatchTreeDrafting"/>) and of n trees drafted one
/// by one, interleaved in one process, on twin drafters that must draft the same trees. Then the line a silo's ledger
/// would learn from the batched passes (<see cref="ServerDraftLedger"/>). Drafts: the demo draft, and a d512 ten-layer
/// Qwen3-style model with random weights (closer to a real draft's shape, still small).
/// </summary>
public static class ServerDraftBenchmark
{
    public static void Run(BenchOptions o)
    {
        int repeats = o.Int("repeats", 5), threads = o.Int("threads", 0), prompt = o.Int("prompt", 128);
        int[] counts = o.Ints("sequences", new[] { 1, 2, 4, 8, 16 });
        string draftDir = Path.GetFullPath(Path.Combine(SpecEdge.TestSupport.ProcessCluster.RepoRoot(), o.String("draft", "models/demo/draft")));
        string outPath = o.String("out", "bench-results/server-draft.json");
        if (threads > 0) set_num_threads(threads);
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"server-draft: {get_num_threads()} intra-op thread(s), {repeats} repeats, {prompt}-token prompts; load before: {load}");
        var options = new DraftTreeOptions { Budget = 32, Proactive = false };
        var rows = new List<object>();
        Console.WriteLine("| draft | trees | one by one ms | together ms | together / one by one | ms per tree together | same trees |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---|");
        var lines = new Dictionary<string, object>();
        foreach (var (name, model) in Drafts(draftDir))
        {
            using var _ = model;
            var ledger = new ServerDraftLedger();
            for (int i = 0; i < ServerDraftLedger.MinSteps; i++) ledger.ObserveStep(1, 1);   // the figures need steps; only the pass line is read
            foreach (int n in counts)
            {
                var random = new Random(n);
                var prompts = Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, prompt).Select(_ => random.Next(model.Config.VocabSize)).ToArray()).ToArray();
                var together = prompts.Select(p => new TreeDrafter(model, p, options, prompt + 64 * (repeats + 2) + 64)).ToArray();
                var alone = prompts.Select(p => new TreeDrafter(model, p, options, prompt + 64 * (repeats + 2) + 64)).ToArray();
                try
                {
                    var batchedMs = new List<double>();
                    var oneByOneMs = new List<double>();
                    bool same = true;
                    // The first round computes the prompts' draft KV with the roots: a warm-up, not timed.
                    for (int r = 0; r < repeats + 1; r++)
                    {
                        DraftMessage[] a = Array.Empty<DraftMessage>(), b = new DraftMessage[n];
                        void Together()
                        {
                            var clock = Stopwatch.StartNew();
                            a = BatchTreeDrafting.BuildTrees(together);
                            if (r > 0) batchedMs.Add(clock.Elapsed.TotalMilliseconds);
                        }
                        void OneByOne()
                        {
                            var clock = Stopwatch.StartNew();
                            for (int i = 0; i < n; i++) b[i] = alone[i].BuildTree();
                            if (r > 0) oneByOneMs.Add(clock.Elapsed.TotalMilliseconds);
                        }
                        // Interleaved, in alternating order: the machine's drift falls on both.
                        if (r % 2 == 0) { Together(); OneByOne(); } else { OneByOne(); Together(); }
                        for (int i = 0; i < n; i++)
                        {
                            same &= a[i].Tokens.SequenceEqual(b[i].Tokens) && a[i].Parents.SequenceEqual(b[i].Parents);
                            // Both twins take the same verdict: two tokens of the tree's first path and a bonus.
                            var tokens = TreePaths.FirstChildPath(a[i], 2).Append(random.Next(model.Config.VocabSize)).ToArray();
                            together[i].Complete(new VerdictMessage(a[i].Step, tokens, false), new VerifierLoad(n, 0, 0, 0));
                            alone[i].Complete(new VerdictMessage(b[i].Step, tokens, false), new VerifierLoad(n, 0, 0, 0));
                        }
                    }
                    double t = Percentile.Of(batchedMs, 50), s = Percentile.Of(oneByOneMs, 50);
                    foreach (var ms in batchedMs) ledger.ObservePass(n, ms);
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {n} | {s:F1} | {t:F1} | {t / s:F2} | {t / n:F2} | {(same ? "yes" : "NO")} |"));
                    rows.Add(new { draft = name, trees = n, one_by_one_ms = s, together_ms = t, ratio = t / s, same_trees = same, together_samples = batchedMs, one_by_one_samples = oneByOneMs });
                }
                finally
                {
                    foreach (var d in together.Concat(alone)) d.Dispose();
                }
            }
            var line = ledger.Current!.Value;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: the ledger's line from the batched passes (last {ServerDraftLedger.Window}): {line.DraftFixedMs:F2} ms a pass + {line.DraftMs:F2} ms a tree"));
            lines[name] = new { fixed_ms = line.DraftFixedMs, per_tree_ms = line.DraftMs };
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "server-draft", date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture), threads = get_num_threads(), repeats, prompt, load_before = load,
            load_after = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a", rows, ledger_lines = lines,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }

    private static IEnumerable<(string Name, CausalLm Model)> Drafts(string demoDraft)
    {
        yield return ("demo draft (d256 x1, bf16 weights)", CausalLm.Load(demoDraft, "float32"));
        var config = RandomModels.Qwen3D512();
        var weights = ModelWeights.Random(config, 1, ScalarType.Float32);
        yield return ($"qwen3 d{config.HiddenSize} x{config.NumHiddenLayers} random", new CausalLm(config, weights, ScalarType.Float32, CPU));
    }
}
