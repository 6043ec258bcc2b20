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

    /// <summary>
    /// Subtracted once from the logit of every token that already appears in this reply (OpenAI's
    /// <c>presence_penalty</c>, in [-2, 2]). Penalties and biases act on the target's logits before anything else, so
    /// greedy decoding, sampling and <see cref="Logprobs"/> all see them; see <see cref="LogitAdjustment"/>.
    /// </summary>
    public double PresencePenalty { get; init; }

    /// <summary>Subtracted from a token's logit once per time it appears in this reply (OpenAI's <c>frequency_penalty</c>, in [-2, 2]).</summary>
    public double FrequencyPenalty { get; init; }

    /// <summary>
    /// The multiplicative penalty of CTRL (Keskar et al., 2019), as vLLM and Hugging Face apply it: the logit of every
    /// token in the context so far (prompt, earlier turns and this reply) is divided by it when positive and multiplied
    /// by it when negative. 1 (default) is off; &gt; 1 discourages repeats.
    /// </summary>
    public double RepetitionPenalty { get; init; } = 1.0;

    /// <summary>Added to the logits of the given token ids (OpenAI's <c>logit_bias</c>, each in [-100, 100]); null for none.</summary>
    public IReadOnlyDictionary<int, double>? LogitBias { get; init; }

    /// <summary>Most <see cref="LogitBias"/> entries one request may carry (OpenAI's documented limit is 300, too).</summary>
    public const int MaxLogitBiasEntries = 300;

    /// <summary>
    /// min-p sampling (an extension, as vLLM): after temperature, tokens less likely than <see cref="MinP"/> times the
    /// most likely one are dropped, before top-k and top-p. 0 (default) is off; in [0, 1].
    /// </summary>
    public double MinP { get; init; }

    /// <summary>
    /// The JSON the reply must be (OpenAI's response_format json_object or json_schema); null for free text. The verifier
    /// masks the target's logits to the tokens the grammar allows after the accepted prefix (after penalties and biases,
    /// before anything chooses), so every path decodes from the same constrained distribution; see
    /// <see cref="Constraints.TokenMasker"/>.
    /// </summary>
    public Constraints.JsonGrammar? Grammar { get; init; }

    public bool IsGreedy => Temperature <= 0;

    /// <summary>Whether the target's logits are changed before a token is chosen (a penalty or a bias is set).</summary>
    public bool AdjustsLogits => PresencePenalty != 0 || FrequencyPenalty != 0 || RepetitionPenalty != 1.0 || LogitBias is { Count: > 0 };

    public void Validate()
    {
        // +inf would divide every logit to 0 (uniform sampling by accident) and NaN poisons the softmax.
        if (!double.IsFinite(Temperature) || Temperature < 0) throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "Temperature must be a finite number >= 0.");
        if (TopK < 0) throw new ArgumentOutOfRangeException(nameof(TopK), TopK, "top_k must be >= 0 (0 disables it).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentOutOfRangeException(nameof(TopP), TopP, "top_p must be in (0, 1].");
        if (Logprobs < -1 || Logprobs > MaxTopLogprobs) throw new ArgumentOutOfRangeException(nameof(Logprobs), Logprobs, $"top_logprobs must be in [0, {MaxTopLogprobs}].");
        if (!(MinP >= 0 && MinP <= 1)) throw new ArgumentOutOfRangeException(nameof(MinP), MinP, "min_p must be in [0, 1].");
        if (!(PresencePenalty >= -2 && PresencePenalty <= 2)) throw new ArgumentOutOfRangeException(nameof(PresencePenalty), PresencePenalty, "presence_penalty must be in [-2, 2].");
        if (!(FrequencyPenalty >= -2 && FrequencyPenalty <= 2)) throw new ArgumentOutOfRangeException(nameof(FrequencyPenalty), FrequencyPenalty, "frequency_penalty must be in [-2, 2].");
        if (!(RepetitionPenalty > 0 && RepetitionPenalty <= MaxRepetitionPenalty))
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, $"repetition_penalty must be in (0, {MaxRepetitionPenalty}].");
        if (LogitBias is { } bias)
        {
            if (bias.Count > MaxLogitBiasEntries) throw new ArgumentOutOfRangeException(nameof(LogitBias), bias.Count, $"logit_bias may hold at most {MaxLogitBiasEntries} tokens.");
            foreach (var (token, value) in bias)
            {
                if (token < 0) throw new ArgumentOutOfRangeException(nameof(LogitBias), token, $"logit_bias names token {token}; token ids are >= 0.");
                if (!(value >= -100 && value <= 100)) throw new ArgumentOutOfRangeException(nameof(LogitBias), value, $"logit_bias for token {token} must be in [-100, 100].");
            }
        }
    }

    /// <summary>As <see cref="Validate()"/>, and every <see cref="LogitBias"/> token must be in the model's vocabulary.</summary>
    public void Validate(int vocabSize)
    {
        Validate();
        if (LogitBias?.Keys.FirstOrDefault(t => t >= vocabSize, -1) is int outside and >= 0)
            throw new ArgumentOutOfRangeException(nameof(LogitBias), outside, $"logit_bias names token {outside}, outside the vocabulary [0, {vocabSize}).");
    }

    /// <summary>Largest <see cref="RepetitionPenalty"/>: beyond it every seen token is all but banned, which a bias says more plainly.</summary>
    public const double MaxRepetitionPenalty = 10;
}
