using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>A whole chat reply (<c>object: "chat.completion"</c>).</summary>
public sealed record ChatCompletionResponse(string Id, long Created, string Model, ChatChoice[] Choices, Usage Usage)
{
    public string Object => "chat.completion";
}

public sealed record ChatChoice(int Index, AssistantMessage Message, string FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs = null);

/// <summary>The reply's text (null when it is only function calls, as OpenAI writes it) and its calls.</summary>
public sealed record AssistantMessage([property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Content, ToolCall[]? ToolCalls = null)
{
    public string Role => "assistant";
}
