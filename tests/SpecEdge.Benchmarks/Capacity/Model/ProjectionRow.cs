namespace SpecEdge.Benchmarks.Capacity;

/// <summary>One projected deployment: a server device, a mode, a number of sessions (edges), and what the simulation gave.</summary>
public sealed record ProjectionRow(string Server, string Mode, DraftPlacement Placement, int Sessions, SimulationResult Result,
    double ServerDollarsPerHour, double EdgeDollarsPerHour)
{
    /// <summary>Tokens per dollar: the server is paid for the whole run (busy or not), edges for their drafting seconds (the paper's accounting of edge GPU time).</summary>
    public double TokensPerDollar => Result.Tokens / ((Result.WallSeconds * ServerDollarsPerHour + Result.EdgeBusySeconds * EdgeDollarsPerHour) / 3600);
}
