namespace SpecEdge.Benchmarks;

/// <summary>Nearest-rank percentiles, the one definition every benchmark table uses.</summary>
public static class Percentile
{
    /// <summary>The <paramref name="percentile"/>-th percentile (nearest rank) of <paramref name="values"/>; NaN when empty.</summary>
    public static double Of(List<double> values, int percentile)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];
    }
}
