namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What a target forward costs on this device, learnt online by least squares over the most recent forwards:
/// milliseconds ≈ fixed + per sequence · sequences + per token · tokens + per padded row · (sequences · longest input)
/// + masked · (some input has more than one token).
/// The per-token term is what makes a tree node cost something: near zero on a GPU below its compute knee, a large
/// share of the forward on a CPU. The masked term is what any tree costs once per forward (the attention mask, the
/// acceptance, the compaction): on a CPU it is about one plain decoding step, so a tree must earn more than a token to
/// pay. The padded term is what uneven trees cost: a batched forward pads every sequence's input to the longest (on the
/// CPU, trees of 0 to 3 nodes cost what trees of 2 and 3 do). Context length is not a term: at the contexts we serve it moves attention's share of a forward by a few
/// percent, inside the fit's noise. Not thread-safe (its owner serialises it); <see cref="Line"/> is an immutable
/// snapshot to hand to another thread.
/// </summary>
public sealed class ForwardCostModel(int window = 128)
{
    /// <summary>The fitted costs in milliseconds.</summary>
    public readonly record struct Line(double FixedMs, double PerSequenceMs, double PerTokenMs, double MaskedMs, double PerPaddedRowMs = 0)
    {
        public double Predict(int sequences, int tokens, bool masked, int padded = 0) =>
            FixedMs + PerSequenceMs * sequences + PerTokenMs * tokens + PerPaddedRowMs * padded + (masked ? MaskedMs : 0);

        public double Predict(ForwardShape shape) => Predict(shape.Sequences, shape.Tokens, shape.Masked, shape.Padded);
    }

    /// <summary>Forwards before the fit is trusted.</summary>
    public const int MinForwards = 8;

    // Masked and plain forwards are kept apart, each to its own window: under load nearly every forward carries a
    // tree, and a single window would soon hold no plain forward to tell the mask's price from the forward's.
    private readonly Queue<(ForwardShape Shape, double Ms)> _samples = new();
    private readonly Queue<(ForwardShape Shape, double Ms)> _plain = new();
    private Line? _line;

    public int Samples => _samples.Count + _plain.Count;

    /// <summary>Forwards observed since the last plain one (no input of more than one token).</summary>
    public int SincePlain { get; private set; }

    /// <summary>A forward of <paramref name="shape"/> took <paramref name="ms"/>.</summary>
    public void Observe(ForwardShape shape, double ms)
    {
        if (shape.Sequences <= 0 || shape.Tokens <= 0 || !(ms >= 0) || double.IsInfinity(ms)) return;
        var queue = shape.Masked ? _samples : _plain;
        queue.Enqueue((shape, ms));
        while (queue.Count > (shape.Masked ? window : window / 4)) queue.Dequeue();
        SincePlain = shape.Masked ? SincePlain + 1 : 0;
        _line = null;
    }

    /// <summary>
    /// The current line, or null while it is unknown: too few forwards, or forwards of fewer than three token counts
    /// (then a token's price cannot be told apart from the forward's).
    /// </summary>
    public Line? Current => _line ??= Fit();

    private Line? Fit()
    {
        if (Samples < MinForwards) return null;
        var s = _samples.Concat(_plain).ToArray();
        if (s.Select(x => x.Shape.Tokens).Distinct().Count() < 3) return null;
        const int features = 4;
        var x = s.Select(v => new double[] { v.Shape.Sequences, v.Shape.Tokens, v.Shape.Masked ? 1 : 0, v.Shape.Padded }).ToArray();
        var y = s.Select(v => v.Ms).ToArray();
        // Non-negative least squares by elimination: a term the data makes negative (noise; a forward never gets
        // cheaper with more work) or cannot tell apart (no variation) is dropped and the rest refitted.
        var active = Enumerable.Range(0, features).ToList();
        double[] coef = new double[features];
        while (true)
        {
            var fit = Solve(x, y, active);
            int worst = -1;
            if (fit is null)
            {
                // Constant features go first; of features in lockstep, padding goes first (even trees), then sequences,
                // before tokens (tokens price a node).
                int constant = active.FindIndex(f => x.All(r => r[f] == x[0][f]));
                worst = constant >= 0 ? constant : active.Contains(3) ? active.IndexOf(3) : 0;
            }
            else
                for (int k = 0; k < active.Count; k++)
                    if (fit[k] < 0) { worst = k; break; }
            if (worst < 0)
            {
                for (int k = 0; k < active.Count; k++) coef[active[k]] = fit![k];
                break;
            }
            active.RemoveAt(worst);
            if (active.Count == 0) break;
        }
        double meanY = y.Average();
        double intercept = meanY;
        for (int f = 0; f < features; f++) intercept -= coef[f] * x.Average(r => r[f]);
        return new Line(Math.Max(0, intercept), coef[0], coef[1], coef[2], coef[3]);
    }

    /// <summary>Least squares on the centred features in <paramref name="active"/>; null when they are collinear or constant.</summary>
    private static double[]? Solve(double[][] x, double[] y, List<int> active)
    {
        if (active.Count == 0) return Array.Empty<double>();
        var mean = active.Select(f => x.Average(r => r[f])).ToArray();
        double meanY = y.Average();
        var rows = x.Select(r => active.Select((f, i) => r[f] - mean[i]).ToArray()).ToList();
        try
        {
            return LeastSquares.Solve(rows, y.Select(v => v - meanY).ToList(), relativeTolerance: 1e-9);
        }
        catch (InvalidOperationException)
        {
            return null;   // features that cannot be told apart: the caller drops one and fits again
        }
    }
}
