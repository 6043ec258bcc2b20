namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// One turn of a conversation: role is "system", "user", "assistant" or "tool" (a tool's result). An assistant turn may
/// carry <see cref="ToolCalls"/>, rendered after its content as the template writes calls.
/// </summary>
public sealed record ChatMessage(string Role, string Content)
{
    public IReadOnlyList<ChatToolCall>? ToolCalls { get; init; }

    /// <summary>A tool result's call: the id of the call it answers (Mistral's template writes it; others do not).</summary>
    public string? ToolCallId { get; init; }
}

/// <summary>A function call the assistant made: the function's name, its arguments as JSON text, and its id (Mistral's template writes it).</summary>
public sealed record ChatToolCall(string Name, string Arguments, string? Id = null);
