namespace SpecEdge.Inference.Tokenization;

/// <summary>An entry of tokenizer.json's added_tokens: matched verbatim in text before any BPE.</summary>
/// <param name="Special">Skipped by decode with skipSpecialTokens (e.g. &lt;|im_end|&gt;; not &lt;think&gt;).</param>
internal sealed record AddedToken(int Id, string Content, bool Special);
