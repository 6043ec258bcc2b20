namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Tokens one verify step emits for a sequence (accepted draft tokens + the bonus, so at least 1): either drawn from the
/// per-step counts of a measured spec run, or from a per-depth model where each next tree level is accepted with
/// probability Alpha given its parent was, up to the tree's depth (the geometric model of the speculative-decoding literature).
/// </summary>
public sealed class AcceptanceModel
{
    private readonly int[]? _measured;
    private readonly double _alpha;
    private readonly int _maxDepth;

    private AcceptanceModel(int[]? measured, double alpha, int maxDepth, string description)
    { _measured = measured; _alpha = alpha; _maxDepth = maxDepth; Description = description; }

    public string Description { get; }

    /// <summary>Expected tokens per step.</summary>
    public double Mean => _measured is not null ? _measured.Average()
        : 1 + Enumerable.Range(1, _maxDepth).Sum(k => Math.Pow(_alpha, k));

    public static AcceptanceModel Measured(IEnumerable<int> tokensPerStep, string source)
    {
        var values = tokensPerStep.ToArray();
        if (values.Length == 0) throw new ArgumentException($"No measured steps to draw acceptance from ({source}).");
        if (values.Any(v => v < 1)) throw new ArgumentException($"A step emits at least one token (the bonus); {source} holds {values.Min()}.");
        return new AcceptanceModel(values, 0, 0, $"{source}: {values.Length} steps, mean {values.Average():F2} tokens/step");
    }

    public static AcceptanceModel PerDepth(double alpha, int maxDepth)
    {
        if (alpha is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "Per-level acceptance is a probability in [0, 1].");
        if (maxDepth < 0) throw new ArgumentOutOfRangeException(nameof(maxDepth), maxDepth, "Tree depth cannot be negative.");
        var model = new AcceptanceModel(null, alpha, maxDepth, "");
        return new AcceptanceModel(null, alpha, maxDepth, $"per-depth alpha {alpha:F2}, depth {maxDepth}: mean {model.Mean:F2} tokens/step");
    }

    /// <summary>One token per step: autoregressive decoding.</summary>
    public static AcceptanceModel OneToken { get; } = PerDepth(0, 0);

    public int Sample(Random random)
    {
        if (_measured is not null) return _measured[random.Next(_measured.Length)];
        int depth = 0;
        while (depth < _maxDepth && random.NextDouble() < _alpha) depth++;
        return depth + 1;
    }
}
