using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// A validated request, the same for both endpoints: the settings of the reply and what to reply to. For a chat,
/// <see cref="Turns"/> are the user and assistant messages in order (the last one is the user's new message; the system
/// message is <see cref="GenerationSettings.SystemPrompt"/>); for a text completion <see cref="Turns"/> is empty and
/// <see cref="Prompt"/> is continued as raw text. <see cref="SessionId"/> names a conversation explicitly.
/// </summary>
public sealed record ReplyJob(
    string Model,
    GenerationSettings Settings,
    IReadOnlyList<ChatTurn> Turns,
    string? Prompt,
    string? SessionId,
    bool Stream,
    bool IncludeUsage,
    string? User)
{
    public bool IsChat => Prompt is null;

    /// <summary>How many choices to generate (<c>n</c>): forks of the conversation, each with its own seed.</summary>
    public int Choices { get; init; } = 1;

    /// <summary>Request fields this server does not know and ignored (lenient parameters), for the response header.</summary>
    public IReadOnlyList<string> IgnoredFields { get; init; } = Array.Empty<string>();

    /// <summary>The new text the model replies to: the user's last message, or the prompt.</summary>
    public string Text => Prompt ?? Turns[^1].Content;
    /// <summary>Whose the new text is: the user's, or a tool's result.</summary>
    public string Role => Prompt is null ? Turns[^1].Role : "user";
    /// <summary>Whether the reply may call tools, so its text is read for calls (tools given, tool_choice not "none").</summary>
    public bool CallsTools => Settings.Tools is { Length: > 0 } && Settings.ToolChoice != "none";
    /// <summary>Whether the conversation involves tools: such conversations are sent whole and never continue a session.</summary>
    public bool UsesTools => Settings.Tools is { Length: > 0 } || Turns.Any(t => t.Role == "tool" || t.ToolCalls is { Length: > 0 });
}
