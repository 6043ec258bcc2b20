using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>Target/draft pairs with known agreement: the target itself, a perturbed copy, an unrelated model.</summary>
public static class SpeculativeTestModels
{
    public enum DraftKind { SameAsTarget, Perturbed, Unrelated }

    public static (CausalLm Target, CausalLm Draft) Pair(string type, DraftKind kind, int vocab = 97, double std = 0.3)
    {
        var config = TestModels.Config(type, tied: type == "qwen3", kvHeads: 2, vocab: vocab);
        var target = CausalLm.Load(TestModels.Write(config, seed: 100, std: std));
        CausalLm draft = kind switch
        {
            DraftKind.SameAsTarget => CausalLm.Load(target.Weights is not null ? DirectoryOf(target, config, 100, std) : ""),
            DraftKind.Perturbed => Perturbed(target, config),
            _ => CausalLm.Load(TestModels.Write(config with { NumHiddenLayers = 1 }, seed: 200, std: std)),
        };
        return (target, draft);
    }

    private static string DirectoryOf(CausalLm target, ModelConfig config, long seed, double std) => TestModels.Write(config, seed, std);

    // The target's weights plus noise: agrees with the target on most but not all tokens.
    private static CausalLm Perturbed(CausalLm target, ModelConfig config)
    {
        var generator = new Generator(7);
        var weights = ModelWeights.Create(config, (name, shape) =>
        {
            var source = target.Weights.Named().First(kv => kv.Key == name).Value;
            return name.Contains("norm") ? source.clone() : source + normal(0, 0.12, shape, generator: generator);
        });
        return new CausalLm(config, weights, ScalarType.Float32, CPU);
    }
}
