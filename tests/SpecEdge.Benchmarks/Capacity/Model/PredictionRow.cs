namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// One figure measured by a benchmark beside the simulator's predictions of it: with the verify cost fitted to the
/// forward timings (the calibration proper) and with the one fitted to the spec run's own verify steps (a diagnostic).
/// </summary>
public sealed record PredictionRow(string Benchmark, string Setting, string Figure, double Measured, double Predicted, double PredictedInRunCost)
{
    /// <summary>(predicted - measured) / measured.</summary>
    public double Error => (Predicted - Measured) / Measured;
    public double InRunCostError => (PredictedInRunCost - Measured) / Measured;
}
