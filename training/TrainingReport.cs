namespace SpecEdge.Inference.Training;

/// <summary>What one <see cref="LanguageModelTrainer.Train"/> run did; <see cref="Losses"/> holds every step's loss (nats/token).</summary>
public sealed record TrainingReport(int Steps, long Tokens, TimeSpan Elapsed, IReadOnlyList<double> Losses)
{
    public double TokensPerSecond => Tokens / Math.Max(Elapsed.TotalSeconds, 1e-9);

    /// <summary>Mean loss of the first / last <paramref name="n"/> steps (fewer when the run was shorter).</summary>
    public double MeanFirstLoss(int n) => Losses.Take(Math.Max(1, n)).DefaultIfEmpty(double.NaN).Average();
    public double MeanLastLoss(int n) => Losses.TakeLast(Math.Max(1, n)).DefaultIfEmpty(double.NaN).Average();
}
