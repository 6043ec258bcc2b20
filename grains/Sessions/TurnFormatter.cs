using SpecEdge.Contracts;
using SpecEdge.Inference;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// Turns a user message into the tokens to append to a conversation. Only the new turn is encoded (never the whole
/// history again), so committed tokens, which the model produced, are never re-tokenised differently. What people
/// wrote (the message, the system prompt) is encoded as ordinary text: only the chat template's own markers become
/// special tokens, so a message cannot close its turn or open a system turn by spelling the markers.
/// </summary>
public static class TurnFormatter
{
    public static int[] Tokens(HfTokenizer tokenizer, ChatFormat format, IReadOnlyList<int> committed, GenerationSettings settings, string text, string role = "user",
        string? toolCallId = null)
    {
        if (!settings.UseChatTemplate)
        {
            var ids = tokenizer.Encode(text, parseSpecialTokens: false);
            return committed.Count == 0 && tokenizer.BosTokenId is int bos ? ids.Prepend(bos).ToArray() : ids;
        }

        var messages = new List<ChatMessage>();
        if (committed.Count == 0 && settings.SystemPrompt is { Length: > 0 } system) messages.Add(new ChatMessage("system", system));
        messages.Add(new ChatMessage(role, text) { ToolCallId = toolCallId });
        // The tools are part of the conversation's start (the system turn): a continued conversation keeps the ones it
        // began with. Mistral's template writes them in front of the last user message instead, so every user turn has them.
        var tools = committed.Count == 0 || (format.ToolsBeforeLastUserMessage && role == "user") ? Tools(settings) : null;
        var segments = format.RenderSegments(messages, addGenerationPrompt: true, tools: tools, continuing: committed.Count > 0).ToList();
        string prefix = "";
        if (committed.Count > 0)
        {
            // Close the previous reply if a stop other than end-of-turn ended it, then separate turns as the template does.
            int? endOfTurn = tokenizer.TokenToId(format.EndOfTurnToken);
            if (endOfTurn is int eot && committed[^1] != eot) prefix = format.EndOfTurnToken;
            if (format.Kind == ChatFormatKind.ChatMl) prefix += "\n";
            // The conversation already has its BOS: drop the one the template writes (it is markup, at the very start).
            if (tokenizer.BosTokenId is int bos && tokenizer.IsSpecial(bos) && segments is [{ IsMarkup: true } first, ..])
            {
                string bosText = tokenizer.Decode(new[] { bos });
                if (first.Text.StartsWith(bosText, StringComparison.Ordinal)) segments[0] = first with { Text = first.Text[bosText.Length..] };
            }
        }
        segments.Insert(0, PromptSegment.Markup(prefix));
        return tokenizer.Encode(segments);
    }

    /// <summary>
    /// A whole conversation for an empty session: the system prompt, <paramref name="history"/> (earlier user and
    /// assistant turns, replayed) and the new user message, rendered by the template as one prompt. Every content is
    /// ordinary text, as in <see cref="Tokens"/>.
    /// </summary>
    public static int[] ConversationTokens(HfTokenizer tokenizer, ChatFormat format, GenerationSettings settings, IReadOnlyList<ChatTurn> history, string text, string role = "user",
        string? toolCallId = null)
    {
        if (!settings.UseChatTemplate)
            throw new ArgumentException("Earlier turns can only be replayed with the chat template on (UseChatTemplate).", nameof(history));
        var messages = new List<ChatMessage>();
        if (settings.SystemPrompt is { Length: > 0 } system) messages.Add(new ChatMessage("system", system));
        messages.AddRange(history.Select(t => new ChatMessage(t.Role, t.Content)
        {
            ToolCalls = t.ToolCalls?.Select(c => new ChatToolCall(c.Name, c.Arguments, c.Id)).ToArray(), ToolCallId = t.ToolCallId,
        }));
        messages.Add(new ChatMessage(role, text) { ToolCallId = toolCallId });
        return tokenizer.Encode(format.RenderSegments(messages, addGenerationPrompt: true, tools: Tools(settings)));
    }

    /// <summary>The settings' tools as the template writes them; refusals name the setting.</summary>
    private static IReadOnlyList<string>? Tools(GenerationSettings settings)
    {
        try { return ToolDefinition.Parse(settings.Tools).Select(t => t.TemplateText).ToArray(); }
        catch (ArgumentException e) { throw e.Renamed(nameof(GenerationSettings.Tools)); }
    }
}
