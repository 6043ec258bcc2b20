using System.Text.Json;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// Llama 3.1's chat template (Meta-Llama-3.1-*-Instruct tokenizer_config.json, JSON tool calling; tested against it
/// rendered by a Jinja engine, tests/tokenizer-reference): a system turn that always states the knowledge cut-off and
/// the template's default date, "Environment: ipython" when tools are offered, the tools (indented JSON) and their
/// instructions in front of the first user message, a call as the whole assistant turn, and results as "ipython"
/// turns holding the result as a JSON string. Built-in tools (brave_search, wolfram_alpha) are not served.
/// </summary>
internal static class Llama31Template
{
    /// <summary>The template's date when none is given (transformers passes none).</summary>
    public const string DateString = "26 Jul 2024";

    private const string ToolInstructions =
        "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n" +
        "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n";

    /// <param name="continuing">Only the turns of <paramref name="messages"/>, for a conversation that already has its start (system turn, tools).</param>
    public static void Render(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages, IReadOnlyList<string> tools, bool addGenerationPrompt, bool continuing)
    {
        int at = 0;
        if (!continuing)
        {
            prompt.Markup("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n");
            string system = "";
            if (messages.Count > 0 && messages[0].Role == "system")
            {
                system = messages[0].Content.Trim();
                at = 1;
            }
            if (tools.Count > 0) prompt.Markup("Environment: ipython\n");
            prompt.Markup("Cutting Knowledge Date: December 2023\nToday Date: " + DateString + "\n\n").Content(system).Markup("<|eot_id|>");
            if (tools.Count > 0)
            {
                // The template takes the first message after the system one, whatever its role, as the user's.
                if (at == messages.Count)
                    throw new ArgumentException("Llama 3.1 puts the tools in the first user message, and the conversation has none.", nameof(messages));
                prompt.Markup("<|start_header_id|>user<|end_header_id|>\n\n" + ToolInstructions);
                foreach (var tool in tools) prompt.Content(Indented(tool)).Markup("\n\n");
                prompt.Content(messages[at].Content.Trim()).Markup("<|eot_id|>");
                at++;
            }
        }
        for (; at < messages.Count; at++)
        {
            var message = messages[at];
            if (message.ToolCalls is { Count: > 0 } calls)
            {
                if (calls.Count != 1)
                    throw new ArgumentException($"Llama 3.1 renders one function call per assistant turn; message {at} has {calls.Count}.", nameof(messages));
                // The turn is the call alone: the template drops any text beside it.
                prompt.Markup("<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"").Content(calls[0].Name).Markup("\", \"parameters\": ")
                    .Content(ArgumentsJson(calls[0].Arguments)).Markup("}<|eot_id|>");
            }
            else if (message.Role is "tool" or "ipython")
            {
                // A string is "iterable" to Jinja, so the template writes the result through tojson: as a quoted JSON string.
                prompt.Markup("<|start_header_id|>ipython<|end_header_id|>\n\n").Content(TemplateJson.Quote(message.Content)).Markup("<|eot_id|>");
            }
            else
            {
                prompt.Markup("<|start_header_id|>").Markup(message.Role).Markup("<|end_header_id|>\n\n").Content(message.Content.Trim()).Markup("<|eot_id|>");
            }
        }
        if (addGenerationPrompt) prompt.Markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
    }

    /// <summary>A tool as tojson(indent=4) writes it.</summary>
    private static string Indented(string tool)
    {
        using var document = JsonDocument.Parse(tool);
        return TemplateJson.WriteIndented(document.RootElement, 4);
    }

    /// <summary>
    /// A call's arguments as tojson writes them: the arguments object (clients send it as JSON text; servers hand the
    /// template the parsed object), or, for text that is not JSON, that text as a JSON string.
    /// </summary>
    internal static string ArgumentsJson(string arguments)
    {
        try
        {
            using var document = JsonDocument.Parse(arguments);
            return TemplateJson.Write(document.RootElement);
        }
        catch (JsonException)
        {
            return TemplateJson.Quote(arguments);
        }
    }
}
