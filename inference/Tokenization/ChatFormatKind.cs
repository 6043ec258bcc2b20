namespace SpecEdge.Inference.Tokenization;

/// <summary>The prompt layouts <see cref="ChatFormat"/> can produce.</summary>
public enum ChatFormatKind
{
    /// <summary>Qwen's ChatML: &lt;|im_start|&gt;role\ncontent&lt;|im_end|&gt;\n.</summary>
    ChatMl,

    /// <summary>Llama 3: &lt;|start_header_id|&gt;role&lt;|end_header_id|&gt;\n\ncontent&lt;|eot_id|&gt;.</summary>
    Llama3,

    /// <summary>Llama 2: &lt;s&gt;[INST] &lt;&lt;SYS&gt;&gt;...&lt;&lt;/SYS&gt;&gt; user [/INST] assistant &lt;/s&gt;.</summary>
    Llama2,

    /// <summary>
    /// Mistral's first instruct template (Mistral-7B-Instruct v0.1/v0.2, Mixtral 8x7B): &lt;s&gt; [INST] user [/INST]
    /// assistant&lt;/s&gt;, a system prompt in front of the first user message.
    /// </summary>
    Mistral,

    /// <summary>
    /// Mistral's template for its V3 tokenizers (Mistral-7B-Instruct v0.3, Nemo, Large 2407):
    /// &lt;s&gt;[INST]user[/INST]assistant&lt;/s&gt; without spaces, a system prompt in front of the last user message.
    /// </summary>
    MistralV3,

    /// <summary>
    /// Llama 3.1 and later (3.2, 3.3): Llama 3's turns, a system turn that always opens with the knowledge and today's
    /// dates, and JSON tool calling (the tools in the first user message, results as "ipython" turns).
    /// </summary>
    Llama31,
}
