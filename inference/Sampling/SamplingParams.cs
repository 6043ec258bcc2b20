namespace SpecEdge.Inference.Sampling;

/// <summary>
/// How to pick a token from logits. <see cref="Temperature"/> 0 means greedy (argmax, lowest id on ties).
/// Otherwise: divide by temperature, keep the <see cref="TopK"/> most likely (0 = all), then the smallest set of most
/// likely tokens whose probability reaches <see cref="TopP"/> (1 = all), renormalise and draw with the seeded RNG.
/// </summary>
public sealed record SamplingParams(double Temperature = 0, int TopK = 0, double TopP = 1.0, ulong Seed = 0)
{
    public static readonly SamplingParams Greedy = new();

    /// <summary>Most alternatives <see cref="Logprobs"/> may ask for (OpenAI's <c>top_logprobs</c> limit).</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>
    /// What the verifier reports with each emitted token: -1 (default) nothing; 0 the token's log probability; k &gt; 0
    /// that and the k most likely tokens. The distribution is the one the token was drawn from: temperature, then top-k
    /// and top-p, renormalised. Greedy decoding has no such distribution, so it reports the model's own (temperature 1,
    /// nothing cut), as OpenAI's API does at temperature 0. Changes no token.
    /// </summary>
    public int Logprobs { get; init; } = -1;

    public bool IsGreedy => Temperature <= 0;

    public void Validate()
    {
        // +inf would divide every logit to 0 (uniform sampling by accident) and NaN poisons the softmax.
        if (!double.IsFinite(Temperature) || Temperature < 0) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number >= 0.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top_k must be >= 0 (0 disables it).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top_p must be in (0, 1].");
        if (Logprobs < -1 || Logprobs > MaxTopLogprobs) throw new ArgumentOutOfRangeException(nameof(Logprobs), Logprobs, $"top_logprobs must be in [0, {MaxTopLogprobs}].");
    }
}
