using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What one of the target's matrix products costs by the number of token rows it multiplies: the evidence behind
/// <see cref="CausalLm.RowMultiple"/>. The CPU kernel works on blocks of rows, so a forward's cost is not monotone in its
/// rows; this prints, for every row count, the time of each of a layer's products and of the LM head, and whether one
/// more row is cheaper. The products use the checkpoint's own weight matrices, one after another as a forward would.
/// </summary>
public static class GemmRowsBenchmark
{
    public static void Run(BenchOptions o)
    {
        int maxRows = o.Int("max-rows", 33), repeats = o.Int("repeats", 400);
        string outPath = o.String("out", "bench-results/gemm-rows.json");
        set_num_threads(o.Int("threads", 1));
        using var target = CausalLm.Load(o.String("target", "models/demo/target"), "float32");
        var layer = target.Weights.layers[0];
        var products = new (string Name, Tensor Weight)[]
        {
            ("q", layer.q_proj), ("k", layer.k_proj), ("v", layer.v_proj), ("o", layer.o_proj),
            ("gate", layer.gate_proj), ("up", layer.up_proj), ("down", layer.down_proj), ("head", target.Weights.lm_head),
        };
        var random = new Random(1);
        // Median microseconds per product, by rows. Row counts are interleaved within each repeat, so a drift of the
        // machine's speed falls on all of them alike.
        var samples = products.Select(_ => Enumerable.Range(0, maxRows + 1).Select(_ => new List<double>()).ToArray()).ToArray();
        var inputs = products.Select(p => Enumerable.Range(0, maxRows + 1).Select(m => m == 0 ? null : randn(m, p.Weight.shape[1])).ToArray()).ToArray();
        for (int r = 0; r < repeats + 20; r++)
            foreach (int m in Enumerable.Range(1, maxRows).OrderBy(_ => random.Next()))
                for (int p = 0; p < products.Length; p++)
                {
                    var clock = Stopwatch.StartNew();
                    using (F.linear(inputs[p][m]!, products[p].Weight)) { }
                    if (r >= 20) samples[p][m].Add(clock.Elapsed.TotalMicroseconds);
                }
        double Median(List<double> list) { list.Sort(); return list[list.Count / 2]; }
        var median = samples.Select(byRows => byRows.Select(list => list.Count == 0 ? 0 : Median(list)).ToArray()).ToArray();
        var layerUs = Enumerable.Range(0, maxRows + 1).Select(m => Enumerable.Range(0, products.Length - 1).Sum(p => median[p][m])).ToArray();

        var table = new StringBuilder("| rows | " + string.Join(" | ", products.Select(p => $"{p.Name} {p.Weight.shape[1]}→{p.Weight.shape[0]} µs")) +
            " | layer µs | layer µs with one more row |\n|---:|" + string.Concat(Enumerable.Repeat("---:|", products.Length + 2)) + "\n");
        for (int m = 1; m <= maxRows; m++)
        {
            string next = m < maxRows ? $"{layerUs[m + 1]:F1}{(layerUs[m + 1] < layerUs[m] ? " (cheaper)" : "")}" : "-";
            table.Append(CultureInfo.InvariantCulture, $"| {m} | {string.Join(" | ", Enumerable.Range(0, products.Length).Select(p => median[p][m].ToString("F1", CultureInfo.InvariantCulture)))} | {layerUs[m]:F1} | {next} |\n");
        }
        Console.WriteLine($"matrix products by rows, {Path.GetFileName(o.String("target", "models/demo/target"))} target's layer 0 and head, float32, " +
            $"{get_num_threads()} thread(s), median of {repeats}");
        Console.WriteLine(table);
        foreach (var list in inputs) foreach (var t in list) t?.Dispose();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "gemm-rows", date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture), machine = $"{Environment.ProcessorCount} cores", repeats,
            rows = Enumerable.Range(1, maxRows).Select(m => new { rows = m, layer_us = layerUs[m], products = products.Select((p, i) => new { name = p.Name, us = median[i][m] }) }),
            table = table.ToString(),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }
}
