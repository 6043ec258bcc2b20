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
    /// the system prompt goes before the last message when that is a user message, and nowhere otherwise. Tools go in
    /// front of the last user message ([AVAILABLE_TOOLS]); an assistant turn with calls is [TOOL_CALLS] and their JSON
    /// array (its text dropped), each call with its 9-character id; a result is [TOOL_RESULTS] with its text as written
    /// and the id of the call it answers. Tool turns and turns with calls stand outside the user/assistant alternation.
    /// </summary>
    public static void RenderV3(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages, IReadOnlyList<string> tools)
    {
        var (system, turns) = SplitSystem(messages, outsideAlternation: m => m.Role == "tool" || m.ToolCalls is { Count: > 0 });
        var syntax = ToolCallSyntax.MistralV3;
        int lastUser = -1;
        for (int i = 0; i < turns.Count; i++) if (turns[i].Role == "user") lastUser = i;
        prompt.Markup("<s>");
        for (int i = 0; i < turns.Count; i++)
        {
            var message = turns[i];
            if (message.Role == "user")
            {
                if (tools.Count > 0 && i == lastUser)
                {
                    prompt.Markup("[AVAILABLE_TOOLS][");
                    for (int t = 0; t < tools.Count; t++)
                    {
                        if (t > 0) prompt.Markup(", ");
                        prompt.Markup("{\"type\": \"function\", \"function\": {").Content(FunctionText(tools[t])).Markup("}}");
                    }
                    prompt.Markup("][/AVAILABLE_TOOLS]");
                }
                prompt.Markup("[INST]");
                if (i == turns.Count - 1 && system is not null)
                {
                    prompt.Content(system).Markup("\n\n");
                }
                prompt.Content(message.Content).Markup("[/INST]");
            }
            else if (message.ToolCalls is { Count: > 0 } calls)
            {
                prompt.Markup("[TOOL_CALLS][");
                for (int c = 0; c < calls.Count; c++)
                {
                    if (c > 0) prompt.Markup(", ");
                    // tojson of {"name", "arguments"}, its closing brace replaced by the id.
                    prompt.Markup("{\"name\": ").Content(TemplateJson.Quote(calls[c].Name)).Markup(", \"arguments\": ")
                        .Content(Llama31Template.ArgumentsJson(calls[c].Arguments)).Markup(", \"id\": \"").Content(syntax.CallId(calls[c].Id)).Markup("\"}");
                }
                prompt.Markup("]</s>");
            }
            else if (message.Role == "tool")
            {
                prompt.Markup("[TOOL_RESULTS]{\"content\": ").Content(message.Content).Markup(", \"call_id\": \"")
                    .Content(syntax.CallId(message.ToolCallId)).Markup("\"}[/TOOL_RESULTS]");
            }
            else
            {
                prompt.Content(message.Content).Markup("</s>");
            }
        }
    }

    /// <summary>
    /// A tool's function members as the template writes them: "key": "text" for a string (the text as is, unescaped, as
    /// the template concatenates it), "key": tojson for anything else; "return" left out.
    /// </summary>
    private static string FunctionText(string tool)
    {
        using var document = System.Text.Json.JsonDocument.Parse(tool);
        var members = new List<string>();
        foreach (var member in document.RootElement.GetProperty("function").EnumerateObject())
        {
            if (member.Name == "return") continue;
            members.Add(member.Value.ValueKind == System.Text.Json.JsonValueKind.String
                ? "\"" + member.Name + "\": \"" + member.Value.GetString() + "\""
                : "\"" + member.Name + "\": " + TemplateJson.Write(member.Value));
        }
        return string.Join(", ", members);
    }

    private static (string? System, IReadOnlyList<ChatMessage> Turns) SplitSystem(IReadOnlyList<ChatMessage> messages, Func<ChatMessage, bool>? outsideAlternation = null)
    {
        string? system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
        var turns = system is null ? messages : messages.Skip(1).ToList();
        for (int i = 0, alternating = 0; i < turns.Count; i++)
        {
            if (outsideAlternation?.Invoke(turns[i]) == true) continue;
            string expected = alternating++ % 2 == 0 ? "user" : "assistant";
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
