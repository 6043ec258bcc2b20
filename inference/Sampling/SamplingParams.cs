namespace SpecEdge.Inference.Sampling;

/// <summary>
/// How to pick a token from logits. <see cref="Temperature"/> 0 means greedy (argmax, lowest id on ties).
/// Otherwise: divide by temperature, keep the <see cref="TopK"/> most likely (0 = all), then the smallest set of most
/// likely tokens whose probability reaches <see cref="TopP"/> (1 = all), renormalise and draw with the seeded RNG.
/// </summary>
public sealed record SamplingParams(double Temperature = 0, int TopK = 0, double TopP = 1.0, ulong Seed = 0)
{
    public static readonly SamplingParams Greedy = new();

    public bool IsGreedy => Temperature <= 0;

    public void Validate()
    {
        // +inf would divide every logit to 0 (uniform sampling by accident) and NaN poisons the softmax.
        if (!double.IsFinite(Temperature) || Temperature < 0) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number >= 0.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top_k must be >= 0 (0 disables it).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top_p must be in (0, 1].");
    }
}
