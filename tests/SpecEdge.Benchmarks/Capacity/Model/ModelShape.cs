namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The shape of a Qwen3-style decoder (grouped-query attention with q/k norms, SwiGLU MLP), enough to count its weight
/// bytes, KV bytes and FLOPs. Values of the real checkpoints are from their config.json files.
/// </summary>
public sealed record ModelShape(string Name, int Layers, int Hidden, int Heads, int KvHeads, int HeadDim, int Intermediate, int Vocab,
    bool TiedEmbeddings, int BytesPerValue = 2)
{
    /// <summary>Qwen/Qwen3-14B config.json: 40 layers, hidden 5120, 40 heads, 8 KV heads, head_dim 128, intermediate 17408, vocab 151936, untied.</summary>
    public static ModelShape Qwen3_14B { get; } = new("Qwen3-14B", 40, 5120, 40, 8, 128, 17408, 151936, TiedEmbeddings: false);

    /// <summary>Qwen/Qwen3-1.7B config.json: 28 layers, hidden 2048, 16 heads, 8 KV heads, head_dim 128, intermediate 6144, vocab 151936, tied.</summary>
    public static ModelShape Qwen3_1_7B { get; } = new("Qwen3-1.7B", 28, 2048, 16, 8, 128, 6144, 151936, TiedEmbeddings: true);

    /// <summary>Weights of one decoder layer: q, k, v, o projections, gate/up/down MLP, two RMSNorms and the q/k head norms.</summary>
    public long LayerParameters =>
        (long)Hidden * Heads * HeadDim + 2L * Hidden * KvHeads * HeadDim + (long)Heads * HeadDim * Hidden
        + 3L * Hidden * Intermediate + 2L * Hidden + 2L * HeadDim;

    public long EmbeddingParameters => (long)Vocab * Hidden;

    /// <summary>All parameters: layers, the final norm, the embedding and (untied) the LM head.</summary>
    public long Parameters => Layers * LayerParameters + Hidden + EmbeddingParameters * (TiedEmbeddings ? 1 : 2);

    /// <summary>
    /// Weight bytes a forward reads: every layer, the final norm and the LM head matrix. The embedding table is only
    /// gathered (a few rows) when it is separate from the head, so an untied embedding is not read whole.
    /// </summary>
    public long WeightBytesRead => ((long)Layers * LayerParameters + Hidden + EmbeddingParameters) * BytesPerValue;

    /// <summary>Keys and values of one token in every layer.</summary>
    public long KvBytesPerToken => 2L * Layers * KvHeads * HeadDim * BytesPerValue;

    /// <summary>
    /// FLOPs of a forward of <paramref name="tokens"/> new tokens over <paramref name="context"/> cached ones:
    /// 2 per weight per token through the layers and the LM head, plus attention scores and weighted values
    /// (2 · 2 · heads · head_dim per query per attended position; a tree's queries attend to the context and at most the tree).
    /// </summary>
    public double Flops(int tokens, int context) =>
        2.0 * tokens * (Layers * (double)LayerParameters + EmbeddingParameters)
        + 4.0 * Layers * Heads * HeadDim * (double)tokens * (context + tokens);
}
