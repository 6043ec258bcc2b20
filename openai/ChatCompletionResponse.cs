using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>A whole chat reply (<c>object: "chat.completion"</c>).</summary>
public sealed record ChatCompletionResponse(string Id, long Created, string Model, ChatChoice[] Choices, Usage Usage)
{
    public string Object => "chat.completion";
}

public sealed record ChatChoice(int Index, AssistantMessage Message, string FinishReason,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] ChatLogprobs? Logprobs = null);

public sealed record AssistantMessage(string Content)
{
    public string Role => "assistant";
}
