namespace SpecEdge.EdgeClient;

/// <summary>
/// What one reply cost on the edge: steps, tokens, time spent drafting vs waiting for verdicts, and per step the round
/// trip (tree sent -> verdict back) next to the server's forward time for it, and each step's breakdown (<see cref="Timings"/>).
/// </summary>
public sealed record ReplyStats(int Steps, int Tokens, double DraftSeconds, double WaitSeconds, double WallSeconds, int ProactiveHits, int ProactiveMisses, List<double> StepMilliseconds, List<double> ServerMilliseconds)
{
    /// <summary>Each verified step's timestamps and breakdown, in order.</summary>
    public List<EdgeStepTiming> Timings { get; init; } = new();

    /// <summary>Steps with an early verdict in time whose outcome the verdict confirmed / did not (early exits).</summary>
    public int EarlyHits { get; init; }
    public int EarlyMisses { get; init; }

    public double TokensPerStep => Steps == 0 ? 0 : (double)Tokens / Steps;
}
