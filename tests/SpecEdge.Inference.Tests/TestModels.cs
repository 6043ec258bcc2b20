using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests;

/// <summary>Small random-weight models written as real Hugging Face directories (config.json + model.safetensors).</summary>
public static class TestModels
{
    public static ModelConfig Config(string modelType, bool tied, int kvHeads = 2, int vocab = 97, int layers = 2) => new()
    {
        ModelType = modelType,
        VocabSize = vocab,
        HiddenSize = 64,
        IntermediateSize = 128,
        NumHiddenLayers = layers,
        NumAttentionHeads = 4,
        NumKeyValueHeads = kvHeads,
        HeadDim = 16,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        MaxPositionEmbeddings = 512,
        TieWordEmbeddings = tied,
        EosTokenIds = new[] { 1 },
        BosTokenId = 0,
    };

    /// <summary>Writes a random model to a fresh temporary directory and returns the directory.</summary>
    public static string Write(ModelConfig config, long seed, double std = 0.2)
    {
        string dir = Path.Combine(Path.GetTempPath(), "specedge-tests", $"{config.ModelType}-{Guid.NewGuid():N}");
        using var weights = ModelWeights.Random(config, seed, ScalarType.Float32, std: std);
        using var model = new CausalLm(config, weights, ScalarType.Float32, CPU);
        model.Save(dir);
        return dir;
    }

    public static IEnumerable<object[]> Variants()
    {
        yield return new object[] { "llama", true, 2 };   // GQA, tied
        yield return new object[] { "llama", false, 4 };  // MHA, untied
        yield return new object[] { "qwen3", true, 2 };
        yield return new object[] { "qwen3", false, 1 };  // MQA
    }

    public static int[] RandomTokens(Random random, int count, int vocab) =>
        Enumerable.Range(0, count).Select(_ => random.Next(vocab)).ToArray();

    public static int[] RandomParents(Random random, int count)
    {
        var parents = new int[count];
        for (int i = 0; i < count; i++) parents[i] = i == 0 ? -1 : random.Next(-1, i);
        parents[0] = -1;
        return parents;
    }

    /// <summary>Logits of the last position of a plain full forward over <paramref name="tokens"/>.</summary>
    public static float[] FullLastLogits(CausalLm model, IReadOnlyList<int> tokens) => FullLogits(model, tokens)[^1];

    public static float[][] FullLogits(CausalLm model, IReadOnlyList<int> tokens)
    {
        using var scope = NewDisposeScope();
        var input = tensor(tokens.Select(t => (long)t).ToArray(), new long[] { 1, tokens.Count });
        var logits = model.ForwardFull(input).to_type(ScalarType.Float32)[0];
        return Enumerable.Range(0, tokens.Count).Select(i => logits[i].data<float>().ToArray()).ToArray();
    }

    public static float[] Row(Tensor logits, int row) => logits[row].data<float>().ToArray();

    public static void AssertClose(float[] expected, float[] actual, double tolerance, string what)
    {
        Xunit.Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        Xunit.Assert.True(worst <= tolerance, $"{what}: max |diff| = {worst:g4} > {tolerance:g4}");
    }
}
