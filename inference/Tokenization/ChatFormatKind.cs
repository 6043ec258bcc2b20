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
}
