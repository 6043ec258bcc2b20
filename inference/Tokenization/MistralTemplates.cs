namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// Mistral's two instruct layouts, written from the chat_template strings of its tokenizer_config.json files (tested
/// against those templates rendered by a Jinja engine, tests/tokenizer-reference). Both: an optional leading system
/// message, then turns that alternate user/assistant starting with a user; no generation prompt (a prompt ending in
/// [/INST] is where the reply begins). Contents are not trimmed, as the templates do not trim them.
/// </summary>
internal static class MistralTemplates
{
    /// <summary>Mistral-7B-Instruct v0.1/v0.2: "&lt;s&gt; [INST] system\n\nuser [/INST] assistant&lt;/s&gt; [INST] user [/INST]".</summary>
    public static void RenderV1(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages)
    {
        var (system, turns) = SplitSystem(messages);
        prompt.Markup("<s>");
        for (int i = 0; i < turns.Count; i++)
        {
            var (role, content) = turns[i];
            if (role == "user")
            {
                prompt.Markup(" [INST] ");
                if (i == 0 && system is not null)
                {
                    prompt.Content(system).Markup("\n\n");
                }
                prompt.Content(content).Markup(" [/INST]");
            }
            else
            {
                prompt.Markup(" ").Content(content).Markup("</s>");
            }
        }
    }

    /// <summary>
    /// V3 tokenizers (Mistral-7B-Instruct v0.3, Nemo): "&lt;s&gt;[INST]user[/INST]assistant&lt;/s&gt;[INST]system\n\nuser[/INST]":
    /// the system prompt goes before the last message when that is a user message, and nowhere otherwise.
    /// </summary>
    public static void RenderV3(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages)
    {
        var (system, turns) = SplitSystem(messages);
        prompt.Markup("<s>");
        for (int i = 0; i < turns.Count; i++)
        {
            var (role, content) = turns[i];
            if (role == "user")
            {
                prompt.Markup("[INST]");
                if (i == turns.Count - 1 && system is not null)
                {
                    prompt.Content(system).Markup("\n\n");
                }
                prompt.Content(content).Markup("[/INST]");
            }
            else
            {
                prompt.Content(content).Markup("</s>");
            }
        }
    }

    private static (string? System, IReadOnlyList<ChatMessage> Turns) SplitSystem(IReadOnlyList<ChatMessage> messages)
    {
        string? system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
        var turns = system is null ? messages : messages.Skip(1).ToList();
        for (int i = 0; i < turns.Count; i++)
        {
            string expected = i % 2 == 0 ? "user" : "assistant";
            if (turns[i].Role != expected)
            {
                throw new ArgumentException(
                    $"Mistral chat accepts an optional leading system message, then turns alternating user/assistant starting " +
                    $"with user; message {i + (system is null ? 0 : 1)} has role '{turns[i].Role}' where '{expected}' belongs.",
                    nameof(messages));
            }
        }
        return (system, turns);
    }
}
