namespace SpecEdge.Inference.Training;

/// <summary>
/// How <see cref="LanguageModelTrainer"/> trains: AdamW with linear warmup then cosine decay over a wall-clock budget
/// (the schedule follows elapsed time, not a step count, so a run fits its time box on any machine).
/// </summary>
public sealed record TrainingOptions
{
    public required TimeSpan Duration { get; init; }
    /// <summary>Stops earlier after this many steps (tests); the schedule then follows steps instead of time.</summary>
    public int? MaxSteps { get; init; }
    public int Context { get; init; } = 128;
    public int BatchSize { get; init; } = 16;
    public double PeakLearningRate { get; init; } = 2e-3;
    public double MinLearningRateFraction { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 100;
    public double WeightDecay { get; init; } = 0.1;
    public double ClipNorm { get; init; } = 1.0;
    public long Seed { get; init; } = 1;
    public TimeSpan ProgressEvery { get; init; } = TimeSpan.FromSeconds(20);
}
