namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// How a chat model family writes the function calls of a reply, as its chat template renders them in history, so that
/// a forced call (a grammar) writes what the model was trained to write and a free reply is read back the same way.
/// A reply's calls are <see cref="Opening"/>, then each call as <see cref="Prefix"/> + a JSON object {"name": ...,
/// <see cref="ArgumentsKey"/>: {...}} + <see cref="Suffix"/>, calls separated by <see cref="Between"/>, then
/// <see cref="Closing"/>.
/// </summary>
/// <param name="Kind">The chat format whose templates write calls this way.</param>
/// <param name="Parallel">Whether one reply may hold several calls (Llama 3.1's template refuses more than one).</param>
public sealed record ToolCallSyntax(ChatFormatKind Kind, string Opening, string Prefix, string Suffix, string Between, string Closing,
    string ArgumentsKey, bool Parallel)
{
    /// <summary>Qwen (ChatML): one &lt;tool_call&gt; block per call, blocks on separate lines.</summary>
    public static ToolCallSyntax ChatMl { get; } = new(ChatFormatKind.ChatMl, "", "<tool_call>\n", "\n</tool_call>", "\n", "", "arguments", Parallel: true);

    /// <summary>
    /// Llama 3.1 JSON tool calling: the whole reply is one {"name": ..., "parameters": {...}} object (the template
    /// renders a turn with more than one call as an error). The model may write &lt;|python_tag|&gt; first, a special
    /// token the reply's text does not show.
    /// </summary>
    public static ToolCallSyntax Llama31 { get; } = new(ChatFormatKind.Llama31, "", "", "", "", "", "parameters", Parallel: false);

    /// <summary>
    /// Mistral's V3 tokenizers: [TOOL_CALLS] and a JSON array of {"name": ..., "arguments": {...}} objects. The model
    /// writes [TOOL_CALLS] as a control token, which the reply's text does not show; a forced call writes it as text
    /// (a grammar chooses among ordinary tokens only). Either way the text reads back as the same calls.
    /// </summary>
    public static ToolCallSyntax MistralV3 { get; } = new(ChatFormatKind.MistralV3, "[TOOL_CALLS][", "", "", ", ", "]", "arguments", Parallel: true);

    /// <summary>The marker Mistral writes before its calls, and the one Llama 3.1 may write, when they appear as text.</summary>
    public const string MistralMarker = "[TOOL_CALLS]", PythonTag = "<|python_tag|>";

    /// <summary>The syntax of <paramref name="kind"/>, or null for a format whose templates do not render tools.</summary>
    public static ToolCallSyntax? For(ChatFormatKind kind) => kind switch
    {
        ChatFormatKind.ChatMl => ChatMl,
        ChatFormatKind.Llama31 => Llama31,
        ChatFormatKind.MistralV3 => MistralV3,
        _ => null,
    };

    /// <summary>
    /// A call id as this family's template accepts it. Mistral's demands 9 letters or digits: other ids (OpenAI's
    /// "call_…") map to 9 characters derived from the id, so a call and the result that names it still match.
    /// </summary>
    /// <exception cref="ArgumentException">Mistral's template, and no id: it names the call each result answers, as its template refuses to render without.</exception>
    public string CallId(string? id)
    {
        if (Kind != ChatFormatKind.MistralV3) return id ?? "";
        if (string.IsNullOrEmpty(id))
            throw new ArgumentException("Mistral's chat template names the call each tool result answers: a tool message needs its tool_call_id, and a call its id.", nameof(id));
        if (id is { Length: 9 } && id.All(char.IsAsciiLetterOrDigit)) return id;
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(id ?? ""));
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        return new string(hash.Take(9).Select(b => alphabet[b % alphabet.Length]).ToArray());
    }

    /// <summary>A new id for a call of a reply: OpenAI's "call_…" form, or 9 letters and digits where the template needs them.</summary>
    public string NewCallId()
    {
        string random = Guid.NewGuid().ToString("N");
        return Kind == ChatFormatKind.MistralV3 ? CallId(random) : "call_" + random[..24];
    }
}
