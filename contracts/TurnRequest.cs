namespace SpecEdge.Contracts;

/// <summary>
/// One turn in one call: the settings for this reply, the user message, and (for a new conversation only) earlier
/// turns to encode before it. <see cref="History"/> is how a stateless API (OpenAI-style, where every request carries
/// the whole conversation) recreates a conversation it has no session for: its turns ("user" or "assistant", in order)
/// are encoded with the chat template as if they had happened here; the system prompt is <see cref="GenerationSettings.SystemPrompt"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.TurnRequest")]
public sealed record TurnRequest
{
    [Id(0)] public GenerationSettings Settings { get; init; } = new();
    [Id(1)] public ChatTurn[] History { get; init; } = Array.Empty<ChatTurn>();
    [Id(2)] public string Text { get; init; } = "";
    /// <summary>Whose message <see cref="Text"/> is: "user", or "tool" for a function's result (ChatML models only).</summary>
    [Id(3)] public string Role { get; init; } = "user";
    /// <summary>For a tool's result: the id of the call it answers (see <see cref="ChatTurn.ToolCallId"/>).</summary>
    [Id(4)] public string? ToolCallId { get; init; }
}
