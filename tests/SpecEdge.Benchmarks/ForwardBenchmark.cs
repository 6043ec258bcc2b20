using System.Diagnostics;
using System.Text.Json;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Forward latency of the model runtime: one token on a long prefix (plain decoding), a draft-sized tree on the same
/// prefix (one verification), and a batch of such trees at equal and at mixed prefix lengths (one batched
/// verification). Every case runs both attention paths (batched: one call per layer; per-sequence: the old loop),
/// interleaved run by run in this one process, so their ratio is measured under the same load. Median of repeated runs.
/// </summary>
public static class ForwardBenchmark
{
    public static void Run(BenchOptions o)
    {
        int repeats = o.Int("repeats", 15), prefix = o.Int("prefix", 512), treeSize = o.Int("tree", 32), batch = o.Int("batch", 8);
        string outPath = o.String("out", "bench-results/forward.json");
        int threads = o.Int("threads", 0);
        if (threads > 0) set_num_threads(threads);
        var config = RandomModels.Qwen3D512();
        long parameters = 0;
        Console.WriteLine($"threads: {get_num_threads()}, model: qwen3 d={config.HiddenSize} layers={config.NumHiddenLayers} vocab={config.VocabSize}");
        var rows = new List<Dictionary<string, object>>();
        var random = new Random(1);
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            using var weights = ModelWeights.Random(config, 1, dtype);
            parameters = weights.All.Sum(t => t.numel());
            using var model = new CausalLm(config, weights, dtype, CPU);
            var caches = Enumerable.Range(0, batch).Select(_ => model.NewCache(prefix + treeSize + 8)).ToArray();
            foreach (var cache in caches)
                model.Forward(new[] { SequenceInput.Chain(cache, RandomTokens(random, prefix, config.VocabSize), lastLogitOnly: true) })[0].Dispose();
            // Mixed prefix lengths 1/16, 3/16 .. 15/16 of prefix (for a batch of 8): padding them all to the longest would double the attention work.
            var mixedPrefixes = Enumerable.Range(0, batch).Select(i => Math.Max(1, prefix * (2 * i + 1) / batch)).ToArray();
            var mixed = mixedPrefixes.Select(p => model.NewCache(p + treeSize + 8)).ToArray();
            for (int i = 0; i < batch; i++)
                model.Forward(new[] { SequenceInput.Chain(mixed[i], RandomTokens(random, mixedPrefixes[i], config.VocabSize), lastLogitOnly: true) })[0].Dispose();
            var tokens = Enumerable.Range(0, batch).Select(_ => RandomTokens(random, treeSize, config.VocabSize)).ToArray();
            var parents = Enumerable.Range(0, batch).Select(_ => RandomTree(random, treeSize)).ToArray();

            void Reset()
            {
                foreach (var c in caches) c.Truncate(prefix);   // every run sees the same prefix
                for (int i = 0; i < batch; i++) mixed[i].Truncate(mixedPrefixes[i]);
            }
            (double Batched, double PerSequence) Time(Func<SequenceInput[]> inputs)
            {
                var samples = new Dictionary<AttentionPath, List<double>> { [AttentionPath.Batched] = new(), [AttentionPath.PerSequence] = new() };
                for (int r = 0; r < repeats + 2; r++)
                {
                    // Alternate which path goes first, so neither always runs right after the other's allocations.
                    var order = r % 2 == 0 ? new[] { AttentionPath.Batched, AttentionPath.PerSequence } : new[] { AttentionPath.PerSequence, AttentionPath.Batched };
                    foreach (var path in order)
                    {
                        model.Attention = path;
                        var sw = Stopwatch.StartNew();
                        foreach (var t in model.Forward(inputs())) t.Dispose();
                        sw.Stop();
                        Reset();
                        if (r >= 2) samples[path].Add(sw.Elapsed.TotalMilliseconds); // two warm-up runs
                    }
                }
                model.Attention = AttentionPath.Batched;
                double Median(List<double> x) { x.Sort(); return x[x.Count / 2]; }
                return (Median(samples[AttentionPath.Batched]), Median(samples[AttentionPath.PerSequence]));
            }

            var cases = new (string Name, Func<SequenceInput[]> Inputs)[]
            {
                ($"1 token, {prefix} prefix", () => new[] { SequenceInput.Chain(caches[0], new[] { tokens[0][0] }) }),
                ($"{treeSize}-node tree, {prefix} prefix", () => new[] { new SequenceInput(caches[0], tokens[0], parents[0]) }),
                ($"{batch} x {treeSize}-node trees batched", () => caches.Select((c, i) => new SequenceInput(c, tokens[i], parents[i])).ToArray()),
                ($"{batch} x {treeSize}-node trees, mixed prefixes", () => mixed.Select((c, i) => new SequenceInput(c, tokens[i], parents[i])).ToArray()),
                ($"{batch} x 1 token, mixed prefixes", () => mixed.Select((c, i) => SequenceInput.Chain(c, new[] { tokens[i][0] })).ToArray()),
            };
            foreach (var (name, inputs) in cases)
            {
                var (batchedMs, perSequenceMs) = Time(inputs);
                double ratio = batchedMs / perSequenceMs;
                rows.Add(new()
                {
                    ["dtype"] = TensorSettings.Name(dtype), ["case"] = name, ["median_ms"] = Math.Round(batchedMs, 2),
                    ["per_sequence_median_ms"] = Math.Round(perSequenceMs, 2), ["batched_over_per_sequence"] = Math.Round(ratio, 3),
                });
                Console.WriteLine($"  {TensorSettings.Name(dtype),-5} {name,-36} batched {batchedMs,9:F2} ms  per-sequence {perSequenceMs,9:F2} ms  ratio {ratio:F3}");
            }
            foreach (var c in caches.Concat(mixed)) c.Dispose();

            // Rebuilding a lost KV cache: prefill of a 1000-token conversation in one forward (only the last logits).
            using (var rebuild = model.NewCache(1024))
            {
                var conversation = RandomTokens(random, 1000, config.VocabSize);
                var samples = new List<double>();
                for (int r = 0; r < Math.Max(3, repeats / 3) + 1; r++)
                {
                    rebuild.Truncate(0);
                    var sw = Stopwatch.StartNew();
                    model.Forward(new[] { SequenceInput.Chain(rebuild, conversation, lastLogitOnly: true) })[0].Dispose();
                    if (r > 0) samples.Add(sw.Elapsed.TotalMilliseconds);
                }
                samples.Sort();
                double ms = samples[samples.Count / 2];
                rows.Add(new() { ["dtype"] = TensorSettings.Name(dtype), ["case"] = "prefill 1000 tokens (KV rebuild)", ["median_ms"] = Math.Round(ms, 2) });
                Console.WriteLine($"  {TensorSettings.Name(dtype),-5} {"prefill 1000 tokens (KV rebuild)",-32} {ms,9:F2} ms");
            }
        }

        Console.WriteLine();
        Console.WriteLine($"| dtype | case | batched, median ms ({repeats} runs) | per-sequence, median ms | batched / per-sequence |");
        Console.WriteLine("|---|---|---:|---:|---:|");
        foreach (var r in rows)
            Console.WriteLine($"| {r["dtype"]} | {r["case"]} | {r["median_ms"]} | {r.GetValueOrDefault("per_sequence_median_ms", "-")} | {r.GetValueOrDefault("batched_over_per_sequence", "-")} |");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "forward", parameters, threads = get_num_threads(), repeats, prefix, tree = treeSize, batch,
            machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}", results = rows,
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"parameters: {parameters / 1e6:F1} M; wrote {outPath}");
    }

    private static int[] RandomTokens(Random random, int n, int vocab) => Enumerable.Range(0, n).Select(_ => random.Next(vocab)).ToArray();

    // A bushy draft-like tree: each node hangs off one of the few most recent nodes.
    private static int[] RandomTree(Random random, int n) =>
        Enumerable.Range(0, n).Select(i => i == 0 ? -1 : Math.Max(0, i - 1 - random.Next(Math.Min(i, 4)))).ToArray();
}
