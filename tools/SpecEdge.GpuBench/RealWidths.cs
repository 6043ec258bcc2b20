using SpecEdge.Inference.Model;

namespace SpecEdge.GpuBench;

/// <summary>Published Qwen3 shapes (config.json of each checkpoint), with the layer count left to the caller.</summary>
internal static class RealWidths
{
    /// <summary>Full layer count of each named width, to scale a few-layer measurement.</summary>
    public static int FullLayers(string name) => name switch
    {
        "qwen3-0.6b" => 28, "qwen3-1.7b" => 28, "qwen3-8b" => 36, "qwen3-14b" => 40,
        _ => throw new ArgumentException($"Unknown width '{name}'; use qwen3-0.6b, qwen3-1.7b, qwen3-8b or qwen3-14b."),
    };

    public static ModelConfig Config(string name, int layers) => name switch
    {
        "qwen3-0.6b" => Qwen3(1024, 3072, 16, 8, layers, tied: true),
        "qwen3-1.7b" => Qwen3(2048, 6144, 16, 8, layers, tied: true),
        "qwen3-8b" => Qwen3(4096, 12288, 32, 8, layers, tied: false),
        "qwen3-14b" => Qwen3(5120, 17408, 40, 8, layers, tied: false),
        _ => throw new ArgumentException($"Unknown width '{name}'."),
    };

    private static ModelConfig Qwen3(int hidden, int intermediate, int heads, int kvHeads, int layers, bool tied) => new()
    {
        ModelType = "qwen3", VocabSize = 151936, HiddenSize = hidden, IntermediateSize = intermediate, NumHiddenLayers = layers,
        NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, HeadDim = 128, TieWordEmbeddings = tied,
        MaxPositionEmbeddings = 40960, RopeTheta = 1000000, RmsNormEps = 1e-6,
    };
}
