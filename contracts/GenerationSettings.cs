namespace SpecEdge.Contracts;

/// <summary>
/// Sampling and stopping settings of a conversation. Temperature 0 is greedy decoding (the target's exact greedy text).
/// With <see cref="UseChatTemplate"/> off, user text is appended raw (plain continuation, useful for base models).
/// <see cref="Seed"/> decides every sample at temperature &gt; 0: the same seed gives the same reply on every path
/// (edge-assisted or not, any draft, after a handoff or a failover). Left null, the session picks a random one.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.GenerationSettings")]
public sealed record GenerationSettings
{
    [Id(0)] public double Temperature { get; init; }
    [Id(1)] public int TopK { get; init; }
    [Id(2)] public double TopP { get; init; } = 1.0;
    [Id(3)] public ulong? Seed { get; init; }
    [Id(4)] public int MaxNewTokens { get; init; } = 128;
    [Id(5)] public string[] StopStrings { get; init; } = Array.Empty<string>();
    [Id(6)] public bool UseChatTemplate { get; init; } = true;
    [Id(7)] public string? SystemPrompt { get; init; }
    /// <summary>
    /// Log probabilities with each reply token: -1 (default) none; 0 the token's own; k (up to 20) and the k most likely
    /// tokens. From the distribution the token was drawn from (temperature, top-k, top-p); at temperature 0 the model's
    /// own (temperature 1). They change no token.
    /// </summary>
    [Id(8)] public int Logprobs { get; init; } = -1;
    /// <summary>OpenAI's presence_penalty in [-2, 2]: subtracted from each token already in this reply. Applied by the verifier to the target's logits.</summary>
    [Id(9)] public double PresencePenalty { get; init; }
    /// <summary>OpenAI's frequency_penalty in [-2, 2]: subtracted once per time a token appears in this reply.</summary>
    [Id(10)] public double FrequencyPenalty { get; init; }
    /// <summary>vLLM's repetition_penalty in (0, 10], 1 off: divides (or multiplies, if negative) the logits of tokens anywhere in the context.</summary>
    [Id(11)] public double RepetitionPenalty { get; init; } = 1.0;
    /// <summary>OpenAI's logit_bias: token id to a value in [-100, 100] added to its logit; null or empty for none.</summary>
    [Id(12)] public Dictionary<int, double>? LogitBias { get; init; }
    /// <summary>min-p sampling (vLLM's extension) in [0, 1], 0 off: drops tokens less likely than min_p times the most likely one.</summary>
    [Id(13)] public double MinP { get; init; }
    /// <summary>
    /// OpenAI's response_format: free text (default), any JSON object, or JSON matching <see cref="JsonSchema"/>. The
    /// verifier masks the target's logits with the grammar, so every path decodes the same constrained distribution.
    /// </summary>
    [Id(14)] public OutputFormat Format { get; init; }
    /// <summary>The JSON Schema text when <see cref="Format"/> is <see cref="OutputFormat.JsonSchema"/> (a documented subset; others are refused by name).</summary>
    [Id(15)] public string? JsonSchema { get; init; }
    /// <summary>
    /// The functions the model may call, each an OpenAI tool object as JSON text ({"type": "function", "function": {...}});
    /// rendered by the chat template (ChatML models only) when a conversation starts. Null or empty for none.
    /// </summary>
    [Id(16)] public string[]? Tools { get; init; }
    /// <summary>
    /// OpenAI's tool_choice: "auto" (default with tools: the model decides), "none", "required" (a call to one of the
    /// tools, constrained to the call's shape), or "function" (a call to <see cref="ToolName"/>, constrained to its parameters).
    /// </summary>
    [Id(17)] public string? ToolChoice { get; init; }
    [Id(18)] public string? ToolName { get; init; }
    /// <summary>
    /// OpenAI's parallel_tool_calls (default true): with tool_choice "required" the reply may make several calls, one
    /// after another; false, exactly one. A named function is called once either way.
    /// </summary>
    [Id(19)] public bool ParallelToolCalls { get; init; } = true;
}
