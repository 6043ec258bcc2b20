namespace SpecEdge.EdgeHost;

/// <summary>What one reply cost on the edge: steps, tokens, and time spent drafting vs waiting for verdicts.</summary>
public sealed record ReplyStats(int Steps, int Tokens, double DraftSeconds, double WaitSeconds, double WallSeconds, int ProactiveHits, int ProactiveMisses, List<double> StepMilliseconds)
{
    public double TokensPerStep => Steps == 0 ? 0 : (double)Tokens / Steps;
}
