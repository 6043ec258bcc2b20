using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>
/// One Server-Sent Event of a streamed chat reply (<c>object: "chat.completion.chunk"</c>). The usage chunk
/// (<c>stream_options.include_usage</c>) has no choices.
/// </summary>
public sealed record ChatCompletionChunk(string Id, long Created, string Model, ChunkChoice[] Choices, Usage? Usage = null)
{
    public string Object => "chat.completion.chunk";
}

public sealed record ChunkChoice(int Index, ChunkDelta Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs = null);

/// <summary>The first delta names the role; later ones carry content only.</summary>
public sealed record ChunkDelta(string? Role = null, string? Content = null, ToolCallDelta[]? ToolCalls = null);
