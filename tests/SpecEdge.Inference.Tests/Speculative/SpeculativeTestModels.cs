using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
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

    /// <summary>
    /// Four requests with random prompts (<paramref name="promptBase"/> + <paramref name="promptStep"/> × i tokens, from
    /// <paramref name="randomSeed"/>), each with <paramref name="sampling"/> and its own seed <paramref name="seedBase"/> + i.
    /// </summary>
    public static GenerationRequest[] Requests(int vocab, SamplingParams sampling, int randomSeed, ulong seedBase, int promptBase, int promptStep,
        StopCriteria stop)
    {
        var random = new Random(randomSeed);
        return Enumerable.Range(0, 4).Select(i => new GenerationRequest(TestModels.RandomTokens(random, promptBase + promptStep * i, vocab),
            sampling with { Seed = seedBase + (ulong)i }, stop)).ToArray();
    }

    /// <summary>
    /// The speculative paths a lossless test compares with plain decoding, lazily: whole trees, <paramref name="extra"/>
    /// tree options, proactive drafts, and trees cut to 0, 1, 3 and 7 nodes by the verifier.
    /// </summary>
    public static IEnumerable<(string Path, GenerationResult[] Results)> EveryPath(TargetVerifier verifier, CausalLm draft, GenerationRequest[] requests,
        DraftTreeOptions tree, int capacity, params (string Name, DraftTreeOptions Tree)[] extra)
    {
        yield return ("whole trees", SpeculativeDecoder.Generate(verifier, draft, requests, tree, capacity));
        foreach (var (name, options) in extra) yield return (name, SpeculativeDecoder.Generate(verifier, draft, requests, options, capacity));
        yield return ("proactive", SpeculativeDecoder.Generate(verifier, draft, requests, tree with { Proactive = true }, capacity));
        foreach (int nodes in new[] { 0, 1, 3, 7 })
            yield return ($"cut to {nodes}", SpeculativeDecoder.Generate(verifier, draft, requests, tree, capacity, null, new TreeTrimmer { Mode = TrimMode.Forced, ForcedNodes = nodes }));
    }

    /// <summary>
    /// Exit heads after layer 1 of <paramref name="target"/> (the "final" one after its last layer), from its logit
    /// lens: "lens" agrees often, "shortlist" scores ids 0-19 and the trees' tokens, "final" is the final layer itself,
    /// anything else is random (a wrong head). Their tensors are the lens's or new ones; dispose the head and the lens.
    /// </summary>
    public static EarlyExitHead TestExitHead(string kind, CausalLm target, EarlyExitHead lens) => kind switch
    {
        "lens" => new EarlyExitHead(1, lens.Norm, lens.LmHead, lens.RmsNormEps),
        "shortlist" => new EarlyExitHead(1, lens.Norm, lens.LmHead, lens.RmsNormEps) { Shortlist = Enumerable.Range(0, 20).ToArray() },
        "final" => new EarlyExitHead(target.Config.NumHiddenLayers, lens.Norm, lens.LmHead, lens.RmsNormEps),
        _ => new EarlyExitHead(1, ones(target.Config.HiddenSize), randn(target.Config.VocabSize, target.Config.HiddenSize, generator: new Generator(9)), target.Config.RmsNormEps),
    };
}
