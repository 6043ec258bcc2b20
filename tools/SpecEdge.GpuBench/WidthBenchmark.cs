using System.Diagnostics;
using System.Text.Json;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.GpuBench;

/// <summary>
/// Forward times at real widths with random weights. A model of a few layers is timed at two layer counts and the
/// full depth estimated by a straight line through them (t = fixed + per-layer x layers: embedding, head and the
/// per-step host work are the fixed part). Random weights accept nothing, so the speculative throughput takes the
/// acceptance measured on the demo pair (--tokens-per-step) and combines it with the measured forward times:
/// server-only tree decoding pays the draft forwards and the verify on the server, edge-assisted pays the verify only.
/// </summary>
internal static class WidthBenchmark
{
    private const int Tree = 33, Batch = 8;
    /// <summary>A 33-node draft tree grown as 4 forwards of an 8-node frontier (plus the root), on the server-only path.</summary>
    private const int DraftForwards = 4, DraftFrontier = 8;

    public static int Run(string deviceName, string dtypeName, string widths, int[] layerCounts, int prefix, int repeats, double tokensPerStep, string outDir)
    {
        var device = TensorSettings.ParseDevice(deviceName);
        var dtype = TensorSettings.ParseDType(dtypeName);
        var rows = new List<Dictionary<string, object>>();
        var estimates = new Dictionary<string, Dictionary<string, double>>();
        foreach (string width in widths.Split(',').Append("qwen3-0.6b").Distinct())
        {
            var perLayerCount = new Dictionary<int, Dictionary<string, double>>();
            foreach (int layers in layerCounts)
            {
                var times = Measure(RealWidths.Config(width, layers), dtype, device, prefix, repeats, draftOnly: width == "qwen3-0.6b" && !widths.Contains("0.6b"));
                perLayerCount[layers] = times;
                foreach (var (name, ms) in times)
                {
                    rows.Add(new() { ["width"] = width, ["layers"] = layers, ["case"] = name, ["median_ms"] = Math.Round(ms, 3) });
                    Console.WriteLine($"  {width,-11} {layers,2} layers  {name,-34} {ms,9:F3} ms");
                }
            }
            // Straight line through the two smallest layer counts, evaluated at the real depth.
            int l0 = layerCounts.Min(), l1 = layerCounts.Max(), full = RealWidths.FullLayers(width);
            estimates[width] = perLayerCount[l0].Keys.ToDictionary(name => name, name =>
                l1 == l0 ? perLayerCount[l0][name] * full / l0
                // A noisy pair can slope downwards; a layer never costs less than nothing.
                : perLayerCount[l0][name] + Math.Max(0, (perLayerCount[l1][name] - perLayerCount[l0][name]) / (l1 - l0)) * (full - l0));
        }

        var summary = new List<object>();
        var draft = estimates["qwen3-0.6b"];
        foreach (string width in widths.Split(','))
        {
            var t = estimates[width];
            double draftStep = DraftForwards * draft[$"draft: {Batch} x {DraftFrontier}-node frontier"];
            double ar = Batch / t[$"{Batch} x 1 token"] * 1000;
            double serverOnly = Batch * tokensPerStep / (draftStep + t[$"{Batch} x {Tree}-node trees"]) * 1000;
            double edge = Batch * tokensPerStep / t[$"{Batch} x {Tree}-node trees"] * 1000;
            var line = new
            {
                width, full_layers = RealWidths.FullLayers(width),
                one_token_ms = Math.Round(t["1 token"], 2), verify_33_ms = Math.Round(t[$"{Tree}-node tree"], 2),
                verify_over_one_token = Math.Round(t[$"{Tree}-node tree"] / t["1 token"], 3),
                batch8_trees_ms = Math.Round(t[$"{Batch} x {Tree}-node trees"], 2),
                batch8_trees_mixed_ms = Math.Round(t[$"{Batch} x {Tree}-node trees, mixed prefixes"], 2),
                draft_step_ms_qwen3_0_6b = Math.Round(draftStep, 2),
                tokens_per_s_target_only = Math.Round(ar, 1), tokens_per_s_server_only_sd = Math.Round(serverOnly, 1),
                tokens_per_s_edge_assisted = Math.Round(edge, 1), edge_over_server_only = Math.Round(edge / serverOnly, 3),
                edge_over_target_only = Math.Round(edge / ar, 3),
            };
            summary.Add(line);
            Console.WriteLine($"  {width}: 1 token {line.one_token_ms} ms, 33-node verify {line.verify_33_ms} ms (x{line.verify_over_one_token}), " +
                $"8 trees {line.batch8_trees_ms} ms; tok/s at batch 8: target-only {line.tokens_per_s_target_only}, server-only SD " +
                $"{line.tokens_per_s_server_only_sd}, edge-assisted {line.tokens_per_s_edge_assisted} (x{line.edge_over_server_only} over server-only)");
        }
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "forward.json"), JsonSerializer.Serialize(new
        {
            device = deviceName, dtype = dtypeName, prefix, repeats, tokens_per_step = tokensPerStep, layer_counts = layerCounts,
            rows, summary,
        }, new JsonSerializerOptions { WriteIndented = true }));
        return 0;
    }

    private static Dictionary<string, double> Measure(ModelConfig config, ScalarType dtype, Device device, int prefix, int repeats, bool draftOnly)
    {
        using var weights = ModelWeights.Random(config, seed: 1, dtype, device);
        using var model = new CausalLm(config, weights, dtype, device);
        var random = new Random(1);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => random.Next(config.VocabSize)).ToArray();
        int[] Bushy(int n) => Enumerable.Range(0, n).Select(i => i == 0 ? -1 : Math.Max(0, i - 1 - random.Next(Math.Min(i, 4)))).ToArray();
        var prefixes = Enumerable.Repeat(prefix, Batch).ToArray();
        var mixedPrefixes = Enumerable.Range(0, Batch).Select(i => Math.Max(1, prefix * (2 * i + 1) / Batch)).ToArray();
        var caches = prefixes.Concat(mixedPrefixes).Select(p => model.NewCache(p + Tree + 8)).ToArray();
        var all = prefixes.Concat(mixedPrefixes).ToArray();
        for (int i = 0; i < caches.Length; i++)
            model.Forward(new[] { SequenceInput.Chain(caches[i], Tokens(all[i]), lastLogitOnly: true) })[0].Dispose();
        var trees = Enumerable.Range(0, Batch).Select(_ => (Tokens: Tokens(Tree), Parents: Bushy(Tree))).ToArray();
        var frontier = Enumerable.Range(0, Batch).Select(_ => (Tokens: Tokens(DraftFrontier), Parents: Bushy(DraftFrontier))).ToArray();

        double Time(Func<SequenceInput[]> inputs)
        {
            var samples = new List<double>();
            for (int r = 0; r < repeats + 2; r++)
            {
                Sync(device);
                var sw = Stopwatch.StartNew();
                foreach (var t in model.Forward(inputs())) t.Dispose();
                Sync(device);
                sw.Stop();
                for (int i = 0; i < caches.Length; i++) caches[i].Truncate(all[i]);
                if (r >= 2) samples.Add(sw.Elapsed.TotalMilliseconds);
            }
            samples.Sort();
            return samples[samples.Count / 2];
        }

        var result = new Dictionary<string, double>();
        if (draftOnly)
        {
            result[$"draft: {Batch} x {DraftFrontier}-node frontier"] = Time(() => caches.Take(Batch).Select((c, i) => new SequenceInput(c, frontier[i].Tokens, frontier[i].Parents)).ToArray());
        }
        else
        {
            result["1 token"] = Time(() => new[] { SequenceInput.Chain(caches[0], new[] { trees[0].Tokens[0] }) });
            result[$"{Tree}-node tree"] = Time(() => new[] { new SequenceInput(caches[0], trees[0].Tokens, trees[0].Parents) });
            result[$"{Batch} x 1 token"] = Time(() => caches.Take(Batch).Select((c, i) => SequenceInput.Chain(c, new[] { trees[i].Tokens[0] })).ToArray());
            result[$"{Batch} x {Tree}-node trees"] = Time(() => caches.Take(Batch).Select((c, i) => new SequenceInput(c, trees[i].Tokens, trees[i].Parents)).ToArray());
            result[$"{Batch} x {Tree}-node trees, mixed prefixes"] = Time(() => caches.Skip(Batch).Select((c, i) => new SequenceInput(c, trees[i].Tokens, trees[i].Parents)).ToArray());
            result[$"draft: {Batch} x {DraftFrontier}-node frontier"] = Time(() => caches.Take(Batch).Select((c, i) => new SequenceInput(c, frontier[i].Tokens, frontier[i].Parents)).ToArray());
        }
        foreach (var c in caches) c.Dispose();
        return result;
    }

    private static void Sync(Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) cuda.synchronize(device);
    }
}
