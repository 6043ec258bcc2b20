namespace SpecEdge.Benchmarks.Capacity;

/// <summary>One figure measured by a benchmark beside the simulator's prediction of it.</summary>
public sealed record PredictionRow(string Benchmark, string Setting, string Figure, double Measured, double Predicted)
{
    /// <summary>(predicted - measured) / measured.</summary>
    public double Error => (Predicted - Measured) / Measured;
}
