using System.Diagnostics;
using SpecEdge.Inference.Model;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Median time of one forward of a model over a draft-tree-sized chain on a fixed prefix: the same input for target and
/// draft, so their ratio is the target/draft cost ratio that decides how much server time offloading the draft saves.
/// </summary>
public static class ForwardTimer
{
    public static double MedianMs(CausalLm model, int[] prefix, int nodes, int repeats = 30)
    {
        using var cache = model.NewCache(prefix.Length + nodes + 8);
        foreach (var t in model.Forward(new[] { SequenceInput.Chain(cache, prefix, lastLogitOnly: true) })) t.Dispose();
        var tokens = Enumerable.Range(0, nodes).Select(i => prefix[i % prefix.Length]).ToArray();
        var samples = new List<double>();
        for (int r = 0; r < repeats + 3; r++)
        {
            var sw = Stopwatch.StartNew();
            foreach (var t in model.Forward(new[] { SequenceInput.Chain(cache, tokens) })) t.Dispose();
            sw.Stop();
            cache.Truncate(prefix.Length);      // every run sees the same prefix
            if (r >= 3) samples.Add(sw.Elapsed.TotalMilliseconds);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
