using SpecEdge.Inference.Model;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Measures target forwards on this machine at a grid of batch sizes, tokens per sequence (1 = a decoding step,
/// budget + 1 = a tree) and context lengths, with <see cref="ForwardTimer"/>, and fits <see cref="LinearVerifyCost"/>
/// to them. The samples and the fit's own error on them are kept for the report.
/// </summary>
public sealed record VerifyCostCalibration(LinearVerifyCost Cost, IReadOnlyList<VerifyCostSample> Samples)
{
    public static VerifyCostCalibration Measure(CausalLm target, int[] batches, int[] tokens, int[] contexts, int rounds, Action<string> log)
    {
        var random = new Random(7);
        int vocab = target.Config.VocabSize;
        var cases = new List<(int Batch, int Tokens, int Context, BatchedForwardCase Forward, List<double> Ms)>();
        try
        {
            foreach (int context in contexts)
                foreach (int batch in batches)
                    foreach (int n in tokens)
                    {
                        var prefixes = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, context).Select(_ => random.Next(vocab)).ToArray()).ToArray();
                        cases.Add((batch, n, context, new BatchedForwardCase(target, prefixes, n), new List<double>()));
                    }
            // Interleaved rounds (two warm-up rounds discarded); of each case keep the fastest run, the least disturbed by
            // the other processes on these cores, as the spec benchmark keeps its fastest run.
            for (int r = 0; r < rounds + 2; r++)
                foreach (var c in cases)
                {
                    double ms = c.Forward.TimeOnceMs();
                    if (r >= 2) c.Ms.Add(ms);
                }
        }
        finally
        {
            foreach (var c in cases) c.Forward.Dispose();
        }
        var samples = cases.Select(c => new VerifyCostSample(c.Batch, c.Tokens, c.Context, c.Ms.Min())).ToList();
        foreach (var s in samples) log($"  forward: batch {s.Batch,2} x {s.Tokens,2} tokens on {s.Context,3} context: {s.MeasuredMs,8:F2} ms (fastest of {rounds})");
        var fit = LinearVerifyCost.Fit(samples.Select(s => ((IReadOnlyList<VerifyItem>)s.Items, s.MeasuredMs / 1000)).ToList());
        return new VerifyCostCalibration(fit, samples);
    }

    /// <summary>Mean absolute relative error of the fit on its own samples.</summary>
    public double FitError => Samples.Average(s => Math.Abs(Cost.Seconds(s.Items) * 1000 - s.MeasuredMs) / s.MeasuredMs);
}
