namespace SpecEdge.OpenAi;

/// <summary>The session's finish reasons in OpenAI's words: <c>stop</c> (end of turn, stop string) or <c>length</c> (token limit, full context).</summary>
public static class FinishReasons
{
    /// <summary>A reply that ended in an error carries "Error: ..." as its finish reason.</summary>
    public static bool IsError(string? reason) => reason is not null && reason.StartsWith("Error", StringComparison.Ordinal);

    public static string ToOpenAi(string? reason) => reason switch
    {
        "MaxTokens" or "ContextFull" => "length",
        _ => "stop",
    };

    /// <summary>The error text of a failed reply (what follows "Error: ").</summary>
    public static string ErrorText(string reason) => reason.StartsWith("Error: ", StringComparison.Ordinal) ? reason["Error: ".Length..] : reason;
}
