using System.Text.Json;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.GpuBench;

/// <summary>
/// The same random test models on the CPU and on the device, compared by logits (not tokens: a different summation
/// order may flip a near-tie): a plain causal forward, a token tree on a cached prefix, and a batch of trees at mixed
/// prefix lengths through the batched attention path. Also writes each model as a Hugging Face checkpoint with our
/// device logits beside it, for transformers_check.py to compare against an independent implementation.
/// </summary>
internal static class EquivalenceCheck
{
    private const double Tolerance = 1e-3;

    public static int Run(string deviceName, string outDir)
    {
        var device = TensorSettings.ParseDevice(deviceName);
        var results = new List<object>();
        bool ok = true;
        foreach (var (name, config) in Models())
        {
            string dir = Path.Combine(outDir, "checkpoints", name);
            using (var weights = ModelWeights.Random(config, seed: 7, ScalarType.Float32, std: 0.2))
            using (var source = new CausalLm(config, weights, ScalarType.Float32, CPU))
            {
                source.Save(dir);
            }
            using var cpu = CausalLm.Load(dir, "fp32", "cpu");
            using var gpu = CausalLm.Load(dir, "fp32", deviceName);
            var random = new Random(3);
            var tokens = Enumerable.Range(0, 24).Select(_ => random.Next(config.VocabSize)).ToArray();

            double full = MaxDiff(FullLogits(cpu, tokens), FullLogits(gpu, tokens));
            double tree = MaxDiff(TreeLogits(cpu, tokens), TreeLogits(gpu, tokens));
            double batch = MaxDiff(BatchLogits(cpu, tokens), BatchLogits(gpu, tokens));
            File.WriteAllText(Path.Combine(dir, "ours.json"), JsonSerializer.Serialize(new { tokens, logits = FullLogits(gpu, tokens) }));
            bool pass = full < Tolerance && tree < Tolerance && batch < Tolerance;
            ok &= pass;
            results.Add(new { model = name, full_forward_max_abs = full, tree_max_abs = tree, batch_max_abs = batch, tolerance = Tolerance, pass });
            Console.WriteLine($"  {name,-22} full {full:E2}  tree {tree:E2}  batch {batch:E2}  {(pass ? "ok" : "FAIL")}");
        }
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "equivalence.json"),
            JsonSerializer.Serialize(new { device = deviceName, results }, new JsonSerializerOptions { WriteIndented = true }));
        return ok ? 0 : 1;
    }

    private static IEnumerable<(string Name, ModelConfig Config)> Models()
    {
        ModelConfig Small(string type, bool tied, int kvHeads) => new()
        {
            ModelType = type, VocabSize = 512, HiddenSize = 64, IntermediateSize = 128, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = kvHeads, HeadDim = 16, TieWordEmbeddings = tied, MaxPositionEmbeddings = 512,
        };
        yield return ("qwen3-tied-gqa", Small("qwen3", true, 2));
        yield return ("llama-untied-gqa", Small("llama", false, 2));
        yield return ("llama-untied-mha", Small("llama", false, 4));
    }

    private static float[][] FullLogits(CausalLm model, int[] tokens)
    {
        using var ids = tensor(tokens.Select(t => (long)t).ToArray(), device: model.Device).view(1, -1);
        using var logits = model.ForwardFull(ids);
        using var host = logits[0].to_type(ScalarType.Float32).cpu();
        return Rows(host);
    }

    private static float[][] TreeLogits(CausalLm model, int[] tokens)
    {
        using var cache = model.NewCache(64);
        model.Forward(new[] { SequenceInput.Chain(cache, tokens[..10], lastLogitOnly: true) })[0].Dispose();
        int[] parents = { -1, 0, 0, 1, 1, 2, 3, 3, 5, 6, 8, 4, 11, 12 };
        using var logits = model.Forward(new[] { new SequenceInput(cache, tokens[10..], parents) })[0];
        using var host = logits.cpu();
        return Rows(host);
    }

    private static float[][] BatchLogits(CausalLm model, int[] tokens)
    {
        int[] prefixes = { 3, 17, 9, 1 };
        var caches = prefixes.Select(_ => model.NewCache(64)).ToArray();
        try
        {
            foreach (var t in model.Forward(prefixes.Select((p, i) => SequenceInput.Chain(caches[i], tokens[..p])).ToArray())) t.Dispose();
            var logits = model.Forward(prefixes.Select((p, i) => new SequenceInput(caches[i], tokens[p..(p + 5)], new[] { -1, 0, 0, 1, 2 })).ToArray());
            var rows = new List<float[]>();
            foreach (var l in logits)
            {
                using var host = l.cpu();
                rows.AddRange(Rows(host));
                l.Dispose();
            }
            return rows.ToArray();
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
        }
    }

    private static float[][] Rows(Tensor t) =>
        Enumerable.Range(0, (int)t.shape[0]).Select(r => t[r].data<float>().ToArray()).ToArray();

    private static double MaxDiff(float[][] a, float[][] b)
    {
        if (a.Length != b.Length) throw new InvalidOperationException($"{a.Length} rows against {b.Length}.");
        double max = 0;
        for (int r = 0; r < a.Length; r++)
            for (int i = 0; i < a[r].Length; i++) max = Math.Max(max, Math.Abs(a[r][i] - b[r][i]));
        return max;
    }
}
