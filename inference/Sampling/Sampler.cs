using static TorchSharp.torch;

namespace SpecEdge.Inference.Sampling;

/// <summary>
/// The one sampler of the project: plain decoding, the draft and the verifier all use it, which is what makes tree
/// verification lossless (every emitted token is a draw of this function at the accepted prefix). <see cref="Sample"/>
/// is the definition; <see cref="SampleRows"/> computes it on the logits' device (<see cref="DeviceSampler"/>).
/// </summary>
public static class Sampler
{
    /// <summary>
    /// One token per row of <paramref name="logits"/> [n, vocab]; row <c>r</c> predicts the token at absolute position
    /// <paramref name="positions"/>[r] of the conversation and is decided by the draw for that position.
    /// </summary>
    public static int[] SampleRows(Tensor logits, SamplingParams p, IReadOnlyList<long> positions)
    {
        if (positions.Count != logits.shape[0])
            throw new ArgumentException($"{logits.shape[0]} logit rows but {positions.Count} positions.", nameof(positions));
        if (p.IsGreedy)
        {
            using var arg = logits.argmax(-1);
            return arg.data<long>().Select(x => (int)x).ToArray();
        }
        // The same function as Sample, row by row, computed where the logits are: only the ids come back.
        return DeviceSampler.SampleRows(logits, Enumerable.Repeat(p, positions.Count).ToArray(), positions);
    }

    /// <summary>
    /// The token that the uniform draw <paramref name="u"/> in [0, 1) picks from <paramref name="logits"/> under
    /// <paramref name="p"/> (inverse CDF over token ids): a deterministic function of (logits, settings, u).
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, SamplingParams p, double u)
    {
        if (p.IsGreedy) return ArgMax(logits);
        var probs = Probabilities(logits, p);
        double cumulative = 0;
        int last = 0;
        for (int i = 0; i < probs.Length; i++)
        {
            if (probs[i] <= 0) continue;
            cumulative += probs[i];
            last = i;
            if (u < cumulative) return i;
        }
        return last; // rounding left u just above the total
    }

    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>The distribution <see cref="Sample"/> draws from (zeros outside top-k/top-p), as doubles summing to 1.</summary>
    public static double[] Probabilities(ReadOnlySpan<float> logits, SamplingParams p)
    {
        int n = logits.Length;
        var probs = new double[n];
        if (p.IsGreedy) { probs[ArgMax(logits)] = 1; return probs; }

        double max = double.NegativeInfinity;
        for (int i = 0; i < n; i++) max = Math.Max(max, logits[i]);
        double sum = 0;
        for (int i = 0; i < n; i++) { probs[i] = Math.Exp((logits[i] - max) / p.Temperature); sum += probs[i]; }
        for (int i = 0; i < n; i++) probs[i] /= sum;

        bool topK = p.TopK > 0 && p.TopK < n, topP = p.TopP < 1.0, minP = p.MinP > 0;
        if (!topK && !topP && !minP) return probs;

        // Order by probability (then id, for determinism), keep the top-k, then the nucleus of what is left.
        var order = Enumerable.Range(0, n).ToArray();
        Array.Sort(order, (a, b) => probs[a] != probs[b] ? probs[b].CompareTo(probs[a]) : a.CompareTo(b));
        int keep = topK ? p.TopK : n;
        // min-p keeps the tokens at least min_p times as likely as the most likely one: a prefix of the order.
        if (minP)
        {
            double threshold = p.MinP * probs[order[0]];
            int above = 0;
            while (above < n && probs[order[above]] >= threshold) above++;
            keep = Math.Min(keep, above);
        }
        if (topP)
        {
            double kept = 0, total = 0;
            for (int i = 0; i < keep; i++) total += probs[order[i]];
            int nucleus = 0;
            // Smallest prefix whose (top-k renormalised) mass reaches top_p; always at least one token.
            while (nucleus < keep && (nucleus == 0 || kept < p.TopP * total)) kept += probs[order[nucleus++]];
            keep = nucleus;
        }
        var filtered = new double[n];
        double mass = 0;
        for (int i = 0; i < keep; i++) mass += probs[order[i]];
        for (int i = 0; i < keep; i++) filtered[order[i]] = probs[order[i]] / mass;
        return filtered;
    }
}
