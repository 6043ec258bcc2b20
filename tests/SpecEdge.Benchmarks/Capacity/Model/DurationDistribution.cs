namespace SpecEdge.Benchmarks.Capacity;

/// <summary>Seconds drawn per event: a constant, or a bootstrap from measured samples (keeps their tail and skew).</summary>
public sealed class DurationDistribution
{
    private readonly double[] _values;

    private DurationDistribution(double[] values, string description) { _values = values; Description = description; }

    public string Description { get; }
    public double Mean => _values.Average();

    public static DurationDistribution Constant(double seconds)
    {
        if (seconds < 0 || double.IsNaN(seconds)) throw new ArgumentOutOfRangeException(nameof(seconds), seconds, "A duration cannot be negative.");
        return new DurationDistribution(new[] { seconds }, $"{seconds * 1000:F2} ms");
    }

    public static DurationDistribution Empirical(IEnumerable<double> seconds, string source)
    {
        var values = seconds.ToArray();
        if (values.Length == 0) throw new ArgumentException($"No samples to draw durations from ({source}).");
        if (values.Any(v => v < 0 || double.IsNaN(v))) throw new ArgumentException($"Negative or NaN duration among the samples of {source}.");
        return new DurationDistribution(values, $"{source}: {values.Length} samples, mean {values.Average() * 1000:F2} ms");
    }

    /// <summary>Evenly spread within ± <paramref name="jitter"/> (a share) of <paramref name="seconds"/>: 101 values; a constant when 0.</summary>
    public static DurationDistribution Spread(double seconds, double jitter, string what) => jitter <= 0
        ? Constant(seconds)
        : Empirical(Enumerable.Range(0, 101).Select(i => seconds * (1 - jitter + 2 * jitter * i / 100.0)), $"{what} ±{jitter:P0}");

    public double Sample(Random random) => _values.Length == 1 ? _values[0] : _values[random.Next(_values.Length)];

    /// <summary>The same distribution with every value scaled (a faster or slower device).</summary>
    public DurationDistribution Scaled(double factor) => new(_values.Select(v => v * factor).ToArray(), $"{Description} x{factor:F2}");
}
