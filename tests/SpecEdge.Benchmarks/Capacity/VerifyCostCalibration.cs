using SpecEdge.Inference.Model;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Measures target forwards on this machine at a grid of batch sizes, tokens per sequence (1 = a decoding step,
/// budget + 1 = a tree) and context lengths, with <see cref="ForwardTimer"/>, and fits <see cref="LinearVerifyCost"/>
/// to them. The samples and the fit's own error on them are kept for the report.
/// </summary>
public sealed record VerifyCostCalibration(LinearVerifyCost Cost, IReadOnlyList<VerifyCostSample> Samples)
{
    public static VerifyCostCalibration Measure(CausalLm target, int[] batches, int[] tokens, int[] contexts, int repeats, Action<string> log)
    {
        var random = new Random(7);
        int vocab = target.Config.VocabSize;
        var samples = new List<VerifyCostSample>();
        foreach (int context in contexts)
            foreach (int batch in batches)
                foreach (int n in tokens)
                {
                    var prefixes = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, context).Select(_ => random.Next(vocab)).ToArray()).ToArray();
                    double ms = ForwardTimer.MedianMs(target, prefixes, n, repeats);
                    samples.Add(new VerifyCostSample(batch, n, context, ms));
                    log($"  forward: batch {batch,2} x {n,2} tokens on {context,3} context: {ms,8:F2} ms");
                }
        var fit = LinearVerifyCost.Fit(samples.Select(s => ((IReadOnlyList<VerifyItem>)s.Items, s.MeasuredMs / 1000)).ToList());
        return new VerifyCostCalibration(fit, samples);
    }

    /// <summary>Mean absolute relative error of the fit on its own samples.</summary>
    public double FitError => Samples.Average(s => Math.Abs(Cost.Seconds(s.Items) * 1000 - s.MeasuredMs) / s.MeasuredMs);
}
