using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>
/// <c>POST /v1/chat/completions</c>. The supported parameters are properties; every other field lands in
/// <see cref="Other"/>, and one that asks for something (a non-default value) is refused naming it. <see cref="Session"/>
/// (or the <c>X-SpecEdge-Session</c> header) names a conversation explicitly instead of sending its history.
/// </summary>
public sealed record ChatCompletionRequest
{
    public string? Model { get; init; }
    public List<RequestMessage?>? Messages { get; init; }
    public double? Temperature { get; init; }
    public double? TopP { get; init; }
    public int? MaxTokens { get; init; }
    public int? MaxCompletionTokens { get; init; }
    /// <summary>A string or an array of strings.</summary>
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
    public string? Session { get; init; }
    /// <summary>Whether to return each reply token's log probability (<c>top_logprobs</c>: and that many alternatives).</summary>
    public bool? Logprobs { get; init; }
    public int? TopLogprobs { get; init; }
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
    /// <summary>Function tools the model may call (ChatML models): rendered by the chat template; calls come back as <c>tool_calls</c>.</summary>
    public JsonElement? Tools { get; init; }
    /// <summary>"none", "auto" (default), "required", or {"type": "function", "function": {"name": ...}}: the last two constrain the reply to a call.</summary>
    public JsonElement? ToolChoice { get; init; }
    /// <summary>True (default): a "required" call may be several calls, one after another; false: exactly one.</summary>
    public bool? ParallelToolCalls { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }
}
