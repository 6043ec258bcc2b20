namespace SpecEdge.Contracts;

/// <summary>
/// One message of a conversation (role: system, user, assistant or tool). An assistant message may carry the function
/// calls it made (<see cref="ToolCalls"/>); a tool message is a call's result.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.ChatTurn")]
public sealed record ChatTurn([property: Id(0)] string Role, [property: Id(1)] string Content)
{
    [Id(2)] public ChatTurnToolCall[]? ToolCalls { get; init; }

    /// <summary>A tool message's call: the id of the call it answers (rendered by templates that name calls, such as Mistral's).</summary>
    [Id(3)] public string? ToolCallId { get; init; }

    /// <summary>
    /// Longest call id accepted (a call's or a result's): OpenAI's are 29 characters. Ids are stored with the
    /// conversation, so a caller may not make them its payload.
    /// </summary>
    public const int MaxToolCallIdChars = 256;
}

/// <summary>A function call an assistant made: the call's id, the function's name and its arguments as JSON text.</summary>
[GenerateSerializer, Immutable, Alias("specedge.ChatTurnToolCall")]
public sealed record ChatTurnToolCall([property: Id(0)] string Id, [property: Id(1)] string Name, [property: Id(2)] string Arguments);
