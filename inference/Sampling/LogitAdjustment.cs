using static TorchSharp.torch;

namespace SpecEdge.Inference.Sampling;

/// <summary>
/// Penalties and biases (<see cref="SamplingParams.AdjustsLogits"/>) applied to the target's logits before a token is
/// chosen, so greedy decoding, sampling and log probabilities all see the same adjusted row. In this order, per row:
/// <list type="number">
/// <item>repetition penalty on every distinct token of the context so far (divide a positive logit, multiply a negative one);</item>
/// <item>minus frequency_penalty × (times the token appears in this reply) and minus presence_penalty if it appears at all;</item>
/// <item>plus its logit_bias.</item>
/// </list>
/// "So far" is exact per row: a tree node's row counts the committed tokens plus the drafted tokens on the path down to
/// that node, which is exactly what target-only decoding would have committed before choosing the same position. So
/// the adjustment, like the draws, depends only on the accepted prefix, never on the tree: verification stays lossless,
/// and drafts may ignore penalties (acceptance absorbs the difference).
/// </summary>
/// <remarks>
/// Only the (row, token) pairs that change are touched: gathered, adjusted and scattered back on the logits' device,
/// each pair once (counts are summed on the host first), so the result does not depend on scatter order. The
/// arithmetic is float32 and the result has the logits' own dtype, so adjusted rows batch with the others unchanged.
/// </remarks>
public static class LogitAdjustment
{
    /// <summary>
    /// Adjusted copy of <paramref name="rows"/> [n, vocab], in its dtype. Row r continues <paramref name="context"/> (every
    /// committed token; the current reply starts at <paramref name="replyStart"/>) with <paramref name="pathTokens"/>[r],
    /// the tokens drafted between the last committed token and that row (empty for a plain decoding step).
    /// </summary>
    public static Tensor Apply(Tensor rows, SamplingParams p, IReadOnlyList<int> context, int replyStart, IReadOnlyList<int[]> pathTokens)
    {
        long n = rows.shape[0], vocab = rows.shape[1];
        if (pathTokens.Count != n) throw new ArgumentException($"{n} logit rows but {pathTokens.Count} paths.", nameof(pathTokens));
        var adjusted = rows.to_type(ScalarType.Float32, copy: true);
        using var flat = adjusted.view(-1);
        var device = rows.device;

        if (p.RepetitionPenalty != 1.0)
        {
            // The context's distinct tokens are every row's; each row adds the drafted tokens on its path.
            var seen = new HashSet<int>(context);
            var shared = seen.ToArray();
            var index = new List<long>(checked((int)n * (shared.Length + 4)));
            for (int r = 0; r < n; r++)
            {
                long offset = r * vocab;
                foreach (int t in shared) index.Add(offset + t);
                foreach (int t in pathTokens[r].Distinct()) if (!seen.Contains(t)) index.Add(offset + t);
            }
            using var at = tensor(index.ToArray(), device: device);
            using var values = flat.index_select(0, at);
            // Kept scalars: a temporary one can be freed under a collection mid-call (see KeptScalars).
            using var positive = values.Gt(0);
            using var divided = values.Over((float)p.RepetitionPenalty);
            using var multiplied = values.Times((float)p.RepetitionPenalty);
            using var penalised = where(positive, divided, multiplied);
            flat.index_copy_(0, at, penalised);
        }

        if (p.PresencePenalty != 0 || p.FrequencyPenalty != 0 || p.LogitBias is { Count: > 0 })
        {
            bool penalties = p.PresencePenalty != 0 || p.FrequencyPenalty != 0;
            var replyCounts = new Dictionary<int, int>();
            if (penalties)
                for (int i = replyStart; i < context.Count; i++) replyCounts[context[i]] = replyCounts.GetValueOrDefault(context[i]) + 1;
            // Each token's change from this reply's counts and its bias, once for all rows: a row whose path holds the
            // token recomputes it from the combined count, with the same formula, so every row's numbers are the ones a
            // full recompute of its context gives.
            double Change(int token, int count)
            {
                double change = count > 0 && penalties ? -(p.FrequencyPenalty * count + p.PresencePenalty) : 0;
                return p.LogitBias is { } bias && bias.TryGetValue(token, out double b) ? change + b : change;
            }
            var shared = new Dictionary<int, float>();
            foreach (var (t, count) in replyCounts) shared[t] = (float)Change(t, count);
            if (p.LogitBias is { } biases) foreach (var t in biases.Keys) if (!shared.ContainsKey(t)) shared[t] = (float)Change(t, 0);
            var index = new List<long>(checked((int)n * (shared.Count + 4)));
            var delta = new List<float>(index.Capacity);
            for (int r = 0; r < n; r++)
            {
                long offset = r * vocab;
                var onPath = new Dictionary<int, int>();
                if (penalties) foreach (int t in pathTokens[r]) onPath[t] = onPath.GetValueOrDefault(t) + 1;
                foreach (var (t, change) in shared)
                {
                    if (onPath.ContainsKey(t)) continue;
                    index.Add(offset + t);
                    delta.Add(change);
                }
                foreach (var (t, count) in onPath)
                {
                    index.Add(offset + t);
                    delta.Add((float)Change(t, replyCounts.GetValueOrDefault(t) + count));
                }
            }
            if (index.Count > 0)
            {
                using var at = tensor(index.ToArray(), device: device);
                using var values = tensor(delta.ToArray(), device: device);
                flat.IndexAddInPlace(0, at, values);
            }
        }
        if (adjusted.dtype == rows.dtype) return adjusted;
        using (adjusted) return adjusted.to_type(rows.dtype);
    }

    /// <summary>The drafted tokens between the root and each node of a tree (the root's own list is empty).</summary>
    public static int[][] TreePaths(IReadOnlyList<int> parents, IReadOnlyList<int> tokens)
    {
        var paths = new int[parents.Count][];
        paths[0] = [];
        for (int u = 1; u < parents.Count; u++) paths[u] = [.. paths[parents[u]], tokens[u]];
        return paths;
    }
}
