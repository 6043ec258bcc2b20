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

    /// <summary>
    /// Median time of one batched forward: every prefix its own cached sequence, each fed a chain of
    /// <paramref name="nodes"/> tokens (verify-sized when nodes = budget + 1, a decoding step when 1). The capacity
    /// command fits its verify cost model on these.
    /// </summary>
    public static double MedianMs(CausalLm model, IReadOnlyList<int[]> prefixes, int nodes, int repeats)
    {
        var caches = prefixes.Select(p => model.NewCache(p.Length + nodes + 8)).ToArray();
        try
        {
            for (int i = 0; i < caches.Length; i++)
                foreach (var t in model.Forward(new[] { SequenceInput.Chain(caches[i], prefixes[i], lastLogitOnly: true) })) t.Dispose();
            var tokens = prefixes.Select(p => Enumerable.Range(0, nodes).Select(i => p[i % p.Length]).ToArray()).ToArray();
            var samples = new List<double>();
            for (int r = 0; r < repeats + 2; r++)
            {
                var sw = Stopwatch.StartNew();
                foreach (var t in model.Forward(caches.Select((c, i) => SequenceInput.Chain(c, tokens[i])).ToArray())) t.Dispose();
                sw.Stop();
                for (int i = 0; i < caches.Length; i++) caches[i].Truncate(prefixes[i].Length);
                if (r >= 2) samples.Add(sw.Elapsed.TotalMilliseconds);
            }
            samples.Sort();
            return samples[samples.Count / 2];
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
        }
    }
}
