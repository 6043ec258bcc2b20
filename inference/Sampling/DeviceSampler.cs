using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Sampling;

/// <summary>
/// <see cref="Sampler.Sample"/> for many rows at once on the logits' own device: only the chosen ids come back to
/// the host, never a vocabulary-sized row. Each row has its own settings and its own position-keyed draw
/// (<see cref="SampleRng"/>), so one call serves every node of every sequence of a batched step.
/// </summary>
/// <remarks>
/// The arithmetic is <see cref="Sampler.Probabilities"/>' in float64, step for step: softmax as exp((l - max) / T)
/// over a running sum, top-k then top-p on the probabilities sorted descending (stable, so ties keep the lower id
/// first), renormalised by the running sum of what is kept, then the inverse CDF over token ids. Sums are cumulative
/// sums, which on a CPU add in the same order as the scalar loop. On a GPU a cumulative sum is a parallel scan that can
/// round the last bit differently, which matters only for a draw within about 1e-16 of a bucket boundary.
/// </remarks>
public static class DeviceSampler
{
    /// <summary>One sampled id per row of <paramref name="logits"/> [rows, vocab]; row r uses settings[r] and the draw of positions[r].</summary>
    public static int[] SampleRows(Tensor logits, IReadOnlyList<SamplingParams> settings, IReadOnlyList<long> positions)
    {
        using var ids = SampleRowsOnDevice(logits, settings, positions);
        using var host = ids.cpu();
        return host.data<long>().Select(x => (int)x).ToArray();
    }

    /// <summary>As <see cref="SampleRows"/>, leaving the ids [rows] (int64) on the device.</summary>
    public static Tensor SampleRowsOnDevice(Tensor logits, IReadOnlyList<SamplingParams> settings, IReadOnlyList<long> positions)
    {
        long rows = logits.shape[0], vocab = logits.shape[1];
        if (settings.Count != rows || positions.Count != rows)
            throw new ArgumentException($"{rows} logit rows but {settings.Count} settings and {positions.Count} positions.");
        using var scope = NewDisposeScope();
        var device = logits.device;
        var greedyIds = logits.argmax(-1);                                                 // [rows]
        if (settings.All(s => s.IsGreedy))
        {
            return greedyIds.MoveToOuterDisposeScope();
        }

        var draws = new double[rows];
        for (int r = 0; r < rows; r++) draws[r] = new SampleRng(settings[r].Seed).At(positions[r]);
        var filtered = Distribution(logits, settings);

        // Inverse CDF over ids: the first id whose cumulative probability exceeds the draw. Ids with probability 0
        // never qualify (their cumulative equals the one before). If rounding leaves the draw above the total, the
        // last id with probability > 0, as the scalar loop does.
        var cdf = filtered.cumsum(-1);
        var u = tensor(draws, device: device).view(rows, 1);
        var index = cdf.le(u).sum(-1);                                                     // [rows]
        var ids = KeptScalars.Range(vocab, ScalarType.Int64, device).view(1, vocab);
        var lastPositive = where(filtered.Gt(0), ids, KeptScalars.FullLike(ids, -1)).max(-1).values;
        var sampled = where(index.Lt(vocab), index, lastPositive);
        var greedyRows = tensor(settings.Select(s => s.IsGreedy).ToArray(), device: device);
        return where(greedyRows, greedyIds, sampled).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The distribution each row samples from, [rows, vocab] float64 on the logits' device: softmax at the row's
    /// temperature, then its min-p, top-k and top-p, renormalised (zeros outside). A greedy row gets the model's own
    /// distribution (temperature 1, nothing cut): what its log probabilities are reported from.
    /// </summary>
    public static Tensor Distribution(Tensor logits, IReadOnlyList<SamplingParams> settings)
    {
        long rows = logits.shape[0], vocab = logits.shape[1];
        using var scope = NewDisposeScope();
        var device = logits.device;
        var temperature = new double[rows];
        var topK = new long[rows];
        var topP = new double[rows];
        var minP = new double[rows];
        var plain = new bool[rows];
        for (int r = 0; r < rows; r++)
        {
            var p = settings[r];
            temperature[r] = p.IsGreedy ? 1.0 : p.Temperature;
            bool k = !p.IsGreedy && p.TopK > 0 && p.TopK < vocab, nucleus = !p.IsGreedy && p.TopP < 1.0;
            topK[r] = k ? p.TopK : vocab;
            topP[r] = nucleus ? p.TopP : 1.0;
            minP[r] = p.IsGreedy ? 0 : p.MinP;
            plain[r] = !k && !nucleus && minP[r] <= 0;
        }
        var t = tensor(temperature, device: device).view(rows, 1);
        var l = logits.to_type(ScalarType.Float64);
        var max = l.max(-1, keepdim: true).values;
        var e = ((l - max) / t).exp();                                                     // [rows, V]
        var probs = e / e.cumsum(-1).narrow(-1, vocab - 1, 1);                             // running sum, as the loop adds
        if (plain.All(x => x)) return probs.MoveToOuterDisposeScope();

        var (sorted, order) = probs.sort(-1, descending: true, stable: true);             // ties: lower id first
        var rank = KeptScalars.Range(vocab, ScalarType.Int64, device).view(1, vocab);
        // min-p keeps the tokens at least min_p times as likely as the most likely one (a prefix of the sorted order),
        // so it only lowers the row's k.
        var aboveMinP = sorted.ge(tensor(minP, device: device).view(rows, 1) * sorted.narrow(-1, 0, 1)).sum(-1, keepdim: true);
        var inTopK = rank.lt(minimum(tensor(topK, device: device).view(rows, 1), aboveMinP));
        var topKOnly = sorted * inTopK;
        var cumulative = topKOnly.cumsum(-1);
        var total = cumulative.narrow(-1, vocab - 1, 1);                                   // mass of the top-k
        // The nucleus keeps rank j when the mass before it is still short of top_p (and always rank 0).
        var before = cat(new[] { zeros(new long[] { rows, 1 }, dtype: ScalarType.Float64, device: device), cumulative.narrow(-1, 0, vocab - 1) }, -1);
        var keep = inTopK & (before.lt(tensor(topP, device: device).view(rows, 1) * total) | rank.Eq(0));
        var kept = sorted * keep;
        var mass = kept.cumsum(-1).narrow(-1, vocab - 1, 1);
        var cut = zeros_like(probs).scatter_(-1, order, kept / mass);
        return where(tensor(plain, device: device).view(rows, 1), probs, cut).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="SamplingParams.Logprobs"/> of the tokens <paramref name="emitted"/>[r] drawn from row r of
    /// <paramref name="logits"/> under <paramref name="p"/>: one device call, and only the numbers asked for come back.
    /// </summary>
    public static TokenLogprob[] Logprobs(Tensor logits, SamplingParams p, IReadOnlyList<int> emitted)
    {
        if (emitted.Count == 0 || p.Logprobs < 0) return [];
        using var scope = NewDisposeScope();
        var rows = logits.narrow(0, 0, emitted.Count);
        var logp = Distribution(rows, Enumerable.Repeat(p, emitted.Count).ToArray()).log();      // -inf outside the cut
        var chosen = logp.gather(1, tensor(emitted.Select(x => (long)x).ToArray(), device: logits.device).view(-1, 1)).squeeze(1).cpu();
        var values = chosen.data<double>().ToArray();
        int k = (int)Math.Min(p.Logprobs, logits.shape[1]);
        double[] topValues = [];
        long[] topIds = [];
        if (k > 0)
        {
            // topk does not promise an order among equal values; a stable descending sort does (lower id first).
            var (sortedValues, order) = logp.sort(-1, descending: true, stable: true);
            topValues = sortedValues.narrow(1, 0, k).cpu().data<double>().ToArray();
            topIds = order.narrow(1, 0, k).cpu().data<long>().ToArray();
        }
        var result = new TokenLogprob[emitted.Count];
        for (int r = 0; r < emitted.Count; r++)
        {
            var ids = new List<int>();
            var lps = new List<double>();
            for (int j = 0; j < k; j++)
            {
                double v = topValues[r * k + j];
                if (double.IsNegativeInfinity(v)) break;                                   // excluded by top-k/top-p
                ids.Add((int)topIds[r * k + j]);
                lps.Add(v);
            }
            result[r] = new TokenLogprob(emitted[r], values[r], ids.ToArray(), lps.ToArray());
        }
        return result;
    }
}
