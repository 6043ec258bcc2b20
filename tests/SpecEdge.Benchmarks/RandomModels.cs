using SpecEdge.Inference.Model;

namespace SpecEdge.Benchmarks;

/// <summary>Model shapes the runtime benchmarks share, used with random weights (no download needed).</summary>
public static class RandomModels
{
    /// <summary>Qwen3-style, d512, 10 layers, 8 query / 4 key-value heads of 64, vocabulary 32k (~50M parameters).</summary>
    public static ModelConfig Qwen3D512() => new()
    {
        ModelType = "qwen3", VocabSize = 32000, HiddenSize = 512, IntermediateSize = 1536, NumHiddenLayers = 10,
        NumAttentionHeads = 8, NumKeyValueHeads = 4, HeadDim = 64, TieWordEmbeddings = true, MaxPositionEmbeddings = 4096,
    };
}
