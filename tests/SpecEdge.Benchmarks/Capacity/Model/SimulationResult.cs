namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// What one simulated deployment delivered. Throughput is over the wall clock of the run (server rented all along);
/// <see cref="SteadyTokensPerSecond"/> only up to the moment the first session runs out of work, so no draining tail
/// of a half-empty batch counts. ITL: each step's duration (from the previous verdict reaching the user to this one)
/// spread over the tokens it emitted, one sample per token.
/// </summary>
public sealed record SimulationResult(
    int Sessions, long Tokens, double WallSeconds, double SteadyTokensPerSecond, double ServerBusySeconds, double EdgeBusySeconds,
    double ItlMeanMs, double ItlP50Ms, double ItlP95Ms, double TtftP50Ms, double MeanBatch, double TokensPerStep)
{
    /// <summary>Issue 13's idle fraction (edge mode): of the time some step is outstanding (tree sent, verdict not yet back), the share with no forward running.</summary>
    public double IdleFraction { get; init; } = double.NaN;
    public double TokensPerSecond => Tokens / WallSeconds;
    public double BusyFraction => ServerBusySeconds / WallSeconds;
    /// <summary>Tokens per second of server device time actually spent (the spec benchmark's "server tok/s").</summary>
    public double TokensPerBusySecond => Tokens / ServerBusySeconds;
}
