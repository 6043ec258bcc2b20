namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// How a SentencePiece-style tokenizer.json (BPE with byte fallback) spells spaces, read from its normalizer,
/// pre-tokenizer and decoder. Hugging Face applies these to each piece of text between added tokens.
/// </summary>
/// <param name="Replacement">The character that stands for a space in the vocabulary (U+2581 '▁').</param>
/// <param name="Prepend">When a replacement character is put before a piece of text.</param>
/// <param name="SplitWords">Metaspace split = true: each '▁' starts a new word, and merges never cross words.</param>
/// <param name="DecodeStripSpaces">The decoder's Strip: how many leading spaces decoding removes (the prepended one).</param>
internal sealed record SentencePieceSettings(char Replacement, MetaspacePrepend Prepend, bool SplitWords, int DecodeStripSpaces);
