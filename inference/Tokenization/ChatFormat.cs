namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// Turns a conversation into the prompt string a chat model was trained on, for the layouts we serve
/// (hand-written equivalents of the published Jinja templates, which .NET cannot run). The string contains
/// special tokens as text; <see cref="HfTokenizer.Encode(string, bool, bool)"/> turns each into its single id, so encode
/// it without addSpecialTokens (the formats write their own BOS). Text from people (message contents) must not become
/// special tokens: encode <see cref="RenderSegments"/> instead, which keeps the template's markup apart from contents.
/// </summary>
public sealed class ChatFormat
{
    public ChatFormat(ChatFormatKind kind, bool supportsThinking = false)
    {
        Kind = kind;
        SupportsThinking = supportsThinking;
    }

    public ChatFormatKind Kind { get; }

    /// <summary>
    /// The token that closes an assistant turn. Generation must stop on it as well as on the tokenizer's
    /// <see cref="HfTokenizer.EosTokenIds"/>: a base Llama 3 tokenizer_config names only &lt;|end_of_text|&gt;,
    /// while a chat reply ends with &lt;|eot_id|&gt;.
    /// </summary>
    public string EndOfTurnToken => Kind switch
    {
        ChatFormatKind.ChatMl => "<|im_end|>",
        ChatFormatKind.Llama3 or ChatFormatKind.Llama31 => "<|eot_id|>",
        _ => "</s>",
    };

    /// <summary>Whether the model has &lt;think&gt; blocks (Qwen3): only then does disabling thinking add an empty one.</summary>
    public bool SupportsThinking { get; }

    /// <summary>
    /// The format of a tokenizer: <paramref name="overrideKind"/> if given, else from the chat template of
    /// tokenizer_config.json (a template with [INST] is Llama 2 when it has &lt;&lt;SYS&gt;&gt;, else Mistral: V3 when it
    /// writes "[INST]" without the spaces around it), else from the vocabulary (&lt;|im_start|&gt; -> ChatML,
    /// &lt;|start_header_id|&gt; -> Llama 3, a [INST] control token -> Mistral V3, otherwise Llama 2).
    /// </summary>
    public static ChatFormat For(HfTokenizer tokenizer, ChatFormatKind? overrideKind = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return Detect(t => tokenizer.TokenToId(t) is not null, tokenizer.ChatTemplateSource, overrideKind);
    }

    /// <summary><see cref="For"/> on a token lookup and template text, for tokenizers other than HfTokenizer.</summary>
    public static ChatFormat Detect(Func<string, bool> hasToken, string? chatTemplate, ChatFormatKind? overrideKind = null)
    {
        bool thinking = hasToken("<think>") && hasToken("</think>");
        ChatFormatKind kind = overrideKind
            ?? (chatTemplate?.Contains("<|im_start|>") == true ? ChatFormatKind.ChatMl
            : chatTemplate?.Contains("<|start_header_id|>") == true ? Llama3TemplateKind(chatTemplate)
            : chatTemplate?.Contains("[INST]") == true ? InstTemplateKind(chatTemplate)
            : hasToken("<|im_start|>") ? ChatFormatKind.ChatMl
            // Llama 3.1 named the reserved token <|python_tag|>; Llama 3's vocabulary has it as a reserved token.
            : hasToken("<|start_header_id|>") ? (hasToken("<|python_tag|>") ? ChatFormatKind.Llama31 : ChatFormatKind.Llama3)
            : hasToken("[INST]") ? ChatFormatKind.MistralV3
            : ChatFormatKind.Llama2);
        return new ChatFormat(kind, thinking && kind == ChatFormatKind.ChatMl);
    }

    /// <summary>Llama 3.1 and later templates state the knowledge cut-off and know "ipython" (tool) turns; Llama 3's do neither.</summary>
    private static ChatFormatKind Llama3TemplateKind(string template) =>
        template.Contains("Cutting Knowledge Date", StringComparison.Ordinal) || template.Contains("ipython", StringComparison.Ordinal)
            ? ChatFormatKind.Llama31 : ChatFormatKind.Llama3;

    /// <summary>Which [INST] family a template belongs to; Llama 2 and Mistral differ in spaces and the system prompt.</summary>
    private static ChatFormatKind InstTemplateKind(string template) =>
        template.Contains("<<SYS>>", StringComparison.Ordinal) ? ChatFormatKind.Llama2
        // V3 templates write the markers bare ("[INST]" + content + "[/INST]") and know tool calls.
        : template.Contains("[AVAILABLE_TOOLS]", StringComparison.Ordinal) || !template.Contains(" [INST]", StringComparison.Ordinal)
            ? ChatFormatKind.MistralV3
        : ChatFormatKind.Mistral;

    /// <summary>
    /// The prompt for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> it ends where the
    /// assistant's reply begins. <paramref name="enableThinking"/> = false makes a Qwen3 model skip reasoning
    /// (an empty think block is written for it), as enable_thinking=False does in the Qwen3 template.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool enableThinking = true, IReadOnlyList<string>? tools = null,
        bool continuing = false) =>
        string.Concat(RenderSegments(messages, addGenerationPrompt, enableThinking, tools, continuing).Select(s => s.Text));

    /// <summary>
    /// Whether this format renders <c>tools</c>, tool calls and tool results: ChatML (Qwen), Llama 3.1 and Mistral's V3
    /// templates do; Llama 3, Llama 2 and Mistral's first template do not.
    /// </summary>
    public bool SupportsTools => ToolCalls is not null;

    /// <summary>How this format's model writes function calls (null where it renders no tools).</summary>
    public ToolCallSyntax? ToolCalls => ToolCallSyntax.For(Kind);

    /// <summary>
    /// Whether the tools go in front of the last user message (Mistral), so that every new user turn of a conversation
    /// carries them again, rather than once at the conversation's start.
    /// </summary>
    public bool ToolsBeforeLastUserMessage => Kind == ChatFormatKind.MistralV3;


    /// <summary>
    /// <see cref="Render"/> as markup and content pieces, in order (their texts concatenate to the rendered prompt):
    /// encoding them with <see cref="HfTokenizer.Encode(IReadOnlyList{PromptSegment}, bool)"/> gives the same ids as
    /// encoding the rendered prompt, except that special-token spellings inside contents stay ordinary text.
    /// </summary>
    /// <param name="tools">The functions the model may call, each as the template's tojson writes it (see
    /// <see cref="TemplateJson"/>); null or empty for none. Only formats that <see cref="SupportsTools"/> take them.</param>
    /// <param name="continuing">The messages continue a conversation that already has its start: formats whose start
    /// is more than a BOS (Llama 3.1's system turn) leave it out.</param>
    public IReadOnlyList<PromptSegment> RenderSegments(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool enableThinking = true,
        IReadOnlyList<string>? tools = null, bool continuing = false)
    {
        ArgumentNullException.ThrowIfNull(messages);
        bool usesTools = tools is { Count: > 0 } || messages.Any(m => m.Role == "tool" || m.ToolCalls is { Count: > 0 });
        if (usesTools && !SupportsTools)
            throw new ArgumentException($"Tools, tool calls and tool results are rendered for ChatML (Qwen), Llama 3.1 and Mistral V3 chat templates only; this model's format is {Kind}.",
                tools is { Count: > 0 } ? nameof(tools) : nameof(messages));
        var prompt = new PromptBuilder();
        switch (Kind)
        {
            case ChatFormatKind.ChatMl: RenderChatMl(prompt, messages, addGenerationPrompt, enableThinking, tools ?? []); break;
            case ChatFormatKind.Llama3: RenderLlama3(prompt, messages, addGenerationPrompt); break;
            case ChatFormatKind.Llama2: RenderLlama2(prompt, messages); break;
            case ChatFormatKind.Mistral: MistralTemplates.RenderV1(prompt, messages); break;
            case ChatFormatKind.MistralV3: MistralTemplates.RenderV3(prompt, messages, tools ?? []); break;
            case ChatFormatKind.Llama31: Llama31Template.Render(prompt, messages, tools ?? [], addGenerationPrompt, continuing); break;
            default: throw new InvalidOperationException($"Unknown chat format {Kind}.");
        }
        return prompt.Segments;
    }

    private void RenderChatMl(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, bool enableThinking, IReadOnlyList<string> tools)
    {
        int first = 0;
        if (tools.Count > 0)
        {
            // Qwen's template: the tools go into the system turn, after the system message if there is one.
            prompt.Markup("<|im_start|>system\n");
            if (messages.Count > 0 && messages[0].Role == "system")
            {
                prompt.Content(messages[0].Content).Markup("\n\n");
                first = 1;
            }
            prompt.Markup("# Tools\n\nYou may call one or more functions to assist with the user query.\n\n" +
                "You are provided with function signatures within <tools></tools> XML tags:\n<tools>");
            foreach (var tool in tools) prompt.Markup("\n").Content(tool);
            prompt.Markup("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n" +
                "<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
        }
        // The last query is the last user turn (tool results have their own role and do not count).
        int lastUser = -1;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "user")
            {
                lastUser = i;
            }
        }
        for (int i = first; i < messages.Count; i++)
        {
            var message = messages[i];
            var (role, content) = message;
            if (role == "assistant")
            {
                prompt.Markup("<|im_start|>assistant\n");
                if (SupportsThinking)
                {
                    // Qwen3's template drops the reasoning of earlier turns and keeps it only after the last
                    // user message (a reply still in progress).
                    string reasoning = "";
                    int end = content.LastIndexOf("</think>", StringComparison.Ordinal);
                    if (end >= 0)
                    {
                        string before = content[..end].TrimEnd('\n');
                        int start = before.LastIndexOf("<think>", StringComparison.Ordinal);
                        reasoning = (start >= 0 ? before[(start + "<think>".Length)..] : before).TrimStart('\n');
                        content = content[(end + "</think>".Length)..].TrimStart('\n');
                    }
                    bool keepThink = i > lastUser && (i == messages.Count - 1 || reasoning.Length > 0);
                    if (keepThink)
                    {
                        prompt.Markup("<think>\n").Content(reasoning.Trim('\n')).Markup("\n</think>\n\n");
                    }
                }
                prompt.Content(content);
                var calls = message.ToolCalls ?? [];
                for (int c = 0; c < calls.Count; c++)
                {
                    if (c > 0 || content.Length > 0) prompt.Markup("\n");
                    prompt.Markup(ToolCallSyntax.ChatMl.Prefix + "{\"name\": \"").Content(calls[c].Name).Markup("\", \"arguments\": ").Content(calls[c].Arguments).Markup("}" + ToolCallSyntax.ChatMl.Suffix);
                }
                prompt.Markup("<|im_end|>\n");
                continue;
            }
            if (role == "tool")
            {
                // Consecutive tool results share one user turn.
                if (i == 0 || messages[i - 1].Role != "tool") prompt.Markup("<|im_start|>user");
                prompt.Markup("\n<tool_response>\n").Content(content).Markup("\n</tool_response>");
                if (i == messages.Count - 1 || messages[i + 1].Role != "tool") prompt.Markup("<|im_end|>\n");
                continue;
            }
            prompt.Markup("<|im_start|>").Markup(role).Markup("\n").Content(content).Markup("<|im_end|>\n");
        }
        if (addGenerationPrompt)
        {
            prompt.Markup("<|im_start|>assistant\n");
            if (!enableThinking && SupportsThinking)
            {
                prompt.Markup("<think>\n\n</think>\n\n");
            }
        }
    }

    private static void RenderLlama3(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        // Meta's template trims each message ("message['content'] | trim").
        prompt.Markup("<|begin_of_text|>");
        foreach (var (role, content) in messages)
        {
            prompt.Markup("<|start_header_id|>").Markup(role).Markup("<|end_header_id|>\n\n")
              .Content(content.Trim()).Markup("<|eot_id|>");
        }
        if (addGenerationPrompt)
        {
            prompt.Markup("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
    }

    private static void RenderLlama2(PromptBuilder prompt, IReadOnlyList<ChatMessage> messages)
    {
        // Llama 2 has no generation prompt: a prompt ending in " [/INST]" is where the reply begins.
        string? system = null;
        int i = 0;
        if (messages.Count > 0 && messages[0].Role == "system")
        {
            system = messages[0].Content.Trim();
            i = 1;
        }
        for (; i < messages.Count; i++)
        {
            var (role, content) = messages[i];
            if (role == "user")
            {
                prompt.Markup("<s>[INST] ");
                if (system is not null)
                {
                    prompt.Markup("<<SYS>>\n").Content(system).Markup("\n<</SYS>>\n\n");
                    system = null;
                }
                prompt.Content(content.Trim()).Markup(" [/INST]");
            }
            else if (role == "assistant")
            {
                prompt.Markup(" ").Content(content.Trim()).Markup(" </s>");
            }
            else
            {
                throw new ArgumentException(
                    $"Llama 2 chat accepts a leading system message, then user/assistant turns; got role '{role}' at {i}.",
                    nameof(messages));
            }
        }
    }
}
