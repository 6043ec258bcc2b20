using System.Text;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// Turns a conversation into the prompt string a chat model was trained on, for the three layouts we serve
/// (hand-written equivalents of the published Jinja templates, which .NET cannot run). The string contains
/// special tokens as text; <see cref="HfTokenizer.Encode"/> turns each into its single id, so encode it
/// without addSpecialTokens (the formats write their own BOS).
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
        ChatFormatKind.Llama3 => "<|eot_id|>",
        _ => "</s>",
    };

    /// <summary>Whether the model has &lt;think&gt; blocks (Qwen3): only then does disabling thinking add an empty one.</summary>
    public bool SupportsThinking { get; }

    /// <summary>
    /// The format of a tokenizer: <paramref name="overrideKind"/> if given, else from the chat template of
    /// tokenizer_config.json, else from the vocabulary (&lt;|im_start|&gt; -> ChatML, &lt;|start_header_id|&gt; ->
    /// Llama 3, otherwise Llama 2).
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
            : chatTemplate?.Contains("<|start_header_id|>") == true ? ChatFormatKind.Llama3
            : chatTemplate?.Contains("[INST]") == true ? ChatFormatKind.Llama2
            : hasToken("<|im_start|>") ? ChatFormatKind.ChatMl
            : hasToken("<|start_header_id|>") ? ChatFormatKind.Llama3
            : ChatFormatKind.Llama2);
        return new ChatFormat(kind, thinking && kind == ChatFormatKind.ChatMl);
    }

    /// <summary>
    /// The prompt for <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> it ends where the
    /// assistant's reply begins. <paramref name="enableThinking"/> = false makes a Qwen3 model skip reasoning
    /// (an empty think block is written for it), as enable_thinking=False does in the Qwen3 template.
    /// </summary>
    public string Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true, bool enableThinking = true)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return Kind switch
        {
            ChatFormatKind.ChatMl => RenderChatMl(messages, addGenerationPrompt, enableThinking),
            ChatFormatKind.Llama3 => RenderLlama3(messages, addGenerationPrompt),
            ChatFormatKind.Llama2 => RenderLlama2(messages),
            _ => throw new InvalidOperationException($"Unknown chat format {Kind}."),
        };
    }

    private string RenderChatMl(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt, bool enableThinking)
    {
        var sb = new StringBuilder();
        int lastUser = -1;
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i].Role == "user")
            {
                lastUser = i;
            }
        }
        for (int i = 0; i < messages.Count; i++)
        {
            var (role, content) = messages[i];
            if (role == "assistant" && SupportsThinking)
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
                sb.Append("<|im_start|>assistant\n");
                if (keepThink)
                {
                    sb.Append("<think>\n").Append(reasoning.Trim('\n')).Append("\n</think>\n\n");
                }
                sb.Append(content).Append("<|im_end|>\n");
                continue;
            }
            sb.Append("<|im_start|>").Append(role).Append('\n').Append(content).Append("<|im_end|>\n");
        }
        if (addGenerationPrompt)
        {
            sb.Append("<|im_start|>assistant\n");
            if (!enableThinking && SupportsThinking)
            {
                sb.Append("<think>\n\n</think>\n\n");
            }
        }
        return sb.ToString();
    }

    private static string RenderLlama3(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        // Meta's template trims each message ("message['content'] | trim").
        var sb = new StringBuilder("<|begin_of_text|>");
        foreach (var (role, content) in messages)
        {
            sb.Append("<|start_header_id|>").Append(role).Append("<|end_header_id|>\n\n")
              .Append(content.Trim()).Append("<|eot_id|>");
        }
        if (addGenerationPrompt)
        {
            sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n");
        }
        return sb.ToString();
    }

    private static string RenderLlama2(IReadOnlyList<ChatMessage> messages)
    {
        // Llama 2 has no generation prompt: a prompt ending in " [/INST]" is where the reply begins.
        var sb = new StringBuilder();
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
                string text = content.Trim();
                if (system is not null)
                {
                    text = $"<<SYS>>\n{system}\n<</SYS>>\n\n{text}";
                    system = null;
                }
                sb.Append("<s>[INST] ").Append(text).Append(" [/INST]");
            }
            else if (role == "assistant")
            {
                sb.Append(' ').Append(content.Trim()).Append(" </s>");
            }
            else
            {
                throw new ArgumentException(
                    $"Llama 2 chat accepts a leading system message, then user/assistant turns; got role '{role}' at {i}.",
                    nameof(messages));
            }
        }
        return sb.ToString();
    }
}
