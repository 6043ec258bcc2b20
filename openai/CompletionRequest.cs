using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>
/// <c>POST /v1/completions</c> (legacy text completion): <see cref="Prompt"/> is a string (or an array holding one),
/// continued as raw text without the chat template. Other fields as in <see cref="ChatCompletionRequest"/>.
/// </summary>
public sealed record CompletionRequest
{
    public string? Model { get; init; }
    public JsonElement? Prompt { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? MaxTokens { get; init; }
    /// <summary>The chat endpoint's name for <see cref="MaxTokens"/>, accepted here too.</summary>
    public int? MaxCompletionTokens { get; init; }
    public JsonElement? Stop { get; init; }
    public long? Seed { get; init; }
    public bool? Stream { get; init; }
    public StreamOptions? StreamOptions { get; init; }
    public string? User { get; init; }
    public int? N { get; init; }
    /// <summary>Extension (as vLLM): sample among the k most likely tokens; 0 or absent: off.</summary>
    public int? TopK { get; init; }
    /// <summary>Extension (as vLLM): drop tokens less likely than min_p times the most likely one; 0 or absent: off.</summary>
    public double? MinP { get; init; }
    /// <summary>Each token's log probability and this many alternatives (0: the token's own only).</summary>
    public int? Logprobs { get; init; }
    /// <summary>OpenAI's penalties in [-2, 2] over this reply's tokens; applied by the verifier to the target's logits.</summary>
    public double? PresencePenalty { get; init; }
    public double? FrequencyPenalty { get; init; }
    /// <summary>Extension (as vLLM): the CTRL repetition penalty over the whole context, in (0, 10]; 1 or absent: off.</summary>
    public double? RepetitionPenalty { get; init; }
    /// <summary>Token id (as a string key, as OpenAI sends it) to a bias in [-100, 100] added to its logit.</summary>
    public JsonElement? LogitBias { get; init; }
    /// <summary>
    /// <c>{"type": "text"}</c>, <c>{"type": "json_object"}</c> or <c>{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}</c>:
    /// the reply is decoded under the grammar (a documented JSON Schema subset; the rest is refused by name).
    /// </summary>
    public JsonElement? ResponseFormat { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }
}
