namespace SpecEdge.Inference.Tokenization;

/// <summary>When a SentencePiece-style tokenizer puts a '▁' before a piece of text (the piece between added tokens).</summary>
internal enum MetaspacePrepend
{
    /// <summary>Never (Metaspace prepend_scheme "never").</summary>
    Never,

    /// <summary>Only before the piece that starts the input, unless it starts with '▁' already (prepend_scheme "first").</summary>
    First,

    /// <summary>Before every piece that does not start with '▁' already (prepend_scheme "always").</summary>
    Always,

    /// <summary>
    /// Before every non-empty piece, even one starting with a space (the legacy Prepend normalizer of Llama 2 files,
    /// which is why Llama 2 reads " x" as "▁▁x" and a piece after &lt;s&gt; gets a '▁' of its own).
    /// </summary>
    EveryPiece,
}
