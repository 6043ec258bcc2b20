using System.Diagnostics;
using SpecEdge.Inference.Model;

namespace SpecEdge.Benchmarks;

/// <summary>
/// A batched forward kept ready to be timed again and again: one cached sequence per prefix (prefilled once), each fed
/// the same chain of <c>nodes</c> tokens every time, the caches cut back to their prefixes after each run. Several cases
/// can be timed in interleaved rounds, so a burst of load on a shared machine hits all of them alike.
/// </summary>
public sealed class BatchedForwardCase : IDisposable
{
    private readonly CausalLm _model;
    private readonly KvCache[] _caches;
    private readonly int[][] _tokens;
    private readonly int[] _prefixLengths;

    public BatchedForwardCase(CausalLm model, IReadOnlyList<int[]> prefixes, int nodes)
    {
        _model = model;
        _caches = prefixes.Select(p => model.NewCache(p.Length + nodes + 8)).ToArray();
        _prefixLengths = prefixes.Select(p => p.Length).ToArray();
        for (int i = 0; i < _caches.Length; i++)
            foreach (var t in model.Forward(new[] { SequenceInput.Chain(_caches[i], prefixes[i], lastLogitOnly: true) })) t.Dispose();
        _tokens = prefixes.Select(p => Enumerable.Range(0, nodes).Select(i => p[i % p.Length]).ToArray()).ToArray();
    }

    /// <summary>Milliseconds of one forward of the whole batch (every node's logits, as a verify computes them).</summary>
    public double TimeOnceMs()
    {
        var sw = Stopwatch.StartNew();
        foreach (var t in _model.Forward(_caches.Select((c, i) => SequenceInput.Chain(c, _tokens[i])).ToArray())) t.Dispose();
        sw.Stop();
        for (int i = 0; i < _caches.Length; i++) _caches[i].Truncate(_prefixLengths[i]);
        return sw.Elapsed.TotalMilliseconds;
    }

    public void Dispose()
    {
        foreach (var c in _caches) c.Dispose();
    }
}
