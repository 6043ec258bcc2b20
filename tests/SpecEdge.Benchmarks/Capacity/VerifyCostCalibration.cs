using SpecEdge.Inference.Model;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Measures target forwards on this machine at a grid of batch sizes, tokens per sequence (1 = a decoding step,
/// budget + 1 = a tree) and context lengths, with <see cref="BatchedForwardCase"/> (the forward timing of the
/// benchmarks), and fits <see cref="LinearVerifyCost"/> to them. Measured in rounds, every case once per round, and the
/// rounds are meant to be spread over the spec run (see <see cref="SpecCalibrationRun"/>): other engineers' jobs share
/// these cores, so timings drift by tens of percent within minutes, and spreading both over the same window makes them
/// see the same load. Of each case the median run is kept: the spec run's figures are means over hundreds of steps under
/// that load, which a median follows and a fastest run (measured in an earlier version: 2-3x too fast at load 30) does not.
/// </summary>
public sealed class VerifyCostCalibration : IDisposable
{
    private readonly List<(int Batch, int Tokens, int Context, BatchedForwardCase Forward, List<double> Ms)> _cases = new();

    public VerifyCostCalibration(CausalLm target, int[] batches, int[] tokens, int[] contexts)
    {
        var random = new Random(7);
        int vocab = target.Config.VocabSize;
        foreach (int context in contexts)
            foreach (int batch in batches)
                foreach (int n in tokens)
                {
                    var prefixes = Enumerable.Range(0, batch).Select(_ => Enumerable.Range(0, context).Select(_ => random.Next(vocab)).ToArray()).ToArray();
                    var forward = new BatchedForwardCase(target, prefixes, n);
                    forward.TimeOnceMs();   // warm-up, discarded
                    _cases.Add((batch, n, context, forward, new List<double>()));
                }
    }

    /// <summary>Times every case once.</summary>
    public void Round()
    {
        foreach (var c in _cases) c.Ms.Add(c.Forward.TimeOnceMs());
    }

    public IReadOnlyList<VerifyCostSample> Samples => _cases.Select(c => new VerifyCostSample(c.Batch, c.Tokens, c.Context, Percentile.Of(c.Ms, 50))).ToList();

    public LinearVerifyCost Fit() => LinearVerifyCost.Fit(Samples.Select(s => (s.Items, s.MeasuredMs / 1000)).ToList());

    /// <summary>Mean absolute relative error of the fit on its own samples.</summary>
    public double FitError
    {
        get
        {
            var cost = Fit();
            return Samples.Average(s => Math.Abs(cost.Seconds(s.Items) * 1000 - s.MeasuredMs) / s.MeasuredMs);
        }
    }

    public int Rounds => _cases.Count == 0 ? 0 : _cases[0].Ms.Count;

    public void Dispose()
    {
        foreach (var c in _cases) c.Forward.Dispose();
    }
}
