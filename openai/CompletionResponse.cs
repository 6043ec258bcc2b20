using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>
/// A text completion (<c>object: "text_completion"</c>); streamed, each event has the same shape with the new text
/// and no usage until the usage event.
/// </summary>
public sealed record CompletionResponse(string Id, long Created, string Model, TextChoice[] Choices, Usage? Usage)
{
    public string Object => "text_completion";
}

public sealed record TextChoice(int Index, string Text,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] CompletionLogprobs? Logprobs = null);
