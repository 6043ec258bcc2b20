using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Temperature &gt; 0: the sequences speculative decoding produces must follow the target's own sampling distribution.
/// With a 6-token vocabulary and 3 new tokens the exact distribution over all 216 continuations is computed from the
/// target's logits, and a chi-square goodness-of-fit test at significance 0.001 is applied to the generated samples.
/// The same test must reject samples of the draft model, which shows it has the power to catch a wrong distribution.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class LosslessSamplingTests(ITestOutputHelper output)
{
    private const int Vocab = 6, NewTokens = 3, Samples = 2400;
    private const double Std = 0.3;  // weights spread so that several continuations are likely
    private const double ZAlpha = 3.0902; // one-sided standard normal quantile for significance 0.001

    public static IEnumerable<object[]> Settings()
    {
        yield return new object[] { "llama", SpeculativeTestModels.DraftKind.Unrelated, 1.0, 0, 1.0, false, false };
        yield return new object[] { "qwen3", SpeculativeTestModels.DraftKind.Perturbed, 0.7, 3, 1.0, true, false };
        yield return new object[] { "llama", SpeculativeTestModels.DraftKind.Perturbed, 1.3, 0, 0.8, true, false };
        yield return new object[] { "qwen3", SpeculativeTestModels.DraftKind.Unrelated, 1.0, 4, 0.9, false, false };
        // Adaptive trees: each sequence's tree shape changes with its own acceptance, still lossless.
        yield return new object[] { "qwen3", SpeculativeTestModels.DraftKind.Perturbed, 0.7, 3, 1.0, true, true };
        yield return new object[] { "llama", SpeculativeTestModels.DraftKind.Unrelated, 1.0, 0, 1.0, false, true };
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void SpeculativeSamples_FollowTheTargetDistribution(string type, SpeculativeTestModels.DraftKind kind, double temperature, int topK, double topP, bool proactive, bool adaptive)
    {
        var (target, draft) = SpeculativeTestModels.Pair(type, kind, vocab: Vocab, std: Std);
        var (_, unrelated) = SpeculativeTestModels.Pair(type, SpeculativeTestModels.DraftKind.Unrelated, vocab: Vocab, std: Std);
        using var ___ = unrelated;
        using var _ = target;
        using var __ = draft;
        var prompt = new[] { 2, 5, 1 };
        var exact = ExactDistribution(target, prompt, new SamplingParams(temperature, topK, topP));

        var requests = Enumerable.Range(0, Samples).Select(i => new GenerationRequest(prompt,
            new SamplingParams(temperature, topK, topP, Seed: (ulong)i + 1), new StopCriteria(Array.Empty<int>(), NewTokens))).ToArray();
        var options = new DraftTreeOptions { Budget = 6, MaxDepth = 3, MaxBeams = 3, BranchWidth = 3, ProactiveDepth = 2, Proactive = proactive };
        if (adaptive) options = options with { Adaptive = new AdaptiveTreeOptions { MinBudget = 1, MinDepth = 1, NodesPerLevel = 1.5, DepthHeadroom = 1 } };
        var verifier = new TargetVerifier(target);
        var speculative = SpeculativeDecoder.Generate(verifier, draft, requests, options, capacity: 32);
        var (statistic, critical, df) = ChiSquare(exact, speculative.Select(r => r.Tokens));
        Assert.True(df >= 5, $"the target distribution is too concentrated for a useful test (df {df})");
        output.WriteLine($"speculative: chi2 = {statistic:F1}, critical(0.001, df={df}) = {critical:F1}, tokens/forward = {speculative.Average(r => r.TokensPerForward):F2}");
        Assert.True(statistic < critical, $"speculative samples deviate from the target distribution: chi2 {statistic:F1} >= {critical:F1} (df {df})");

        // Power check: samples of an unrelated model come from another distribution and must be rejected.
        var draftSamples = AutoregressiveDecoder.Generate(new TargetVerifier(unrelated), requests, capacity: 32);
        var (draftStatistic, draftCritical, _) = ChiSquare(exact, draftSamples.Select(r => r.Tokens));
        output.WriteLine($"unrelated model's samples: chi2 = {draftStatistic:F1}");
        Assert.True(draftStatistic > draftCritical, $"the test cannot tell the draft from the target (chi2 {draftStatistic:F1})");
    }

    [Fact]
    public void PlainSampling_FollowsTheTargetDistribution()
    {
        var (target, draft) = SpeculativeTestModels.Pair("qwen3", SpeculativeTestModels.DraftKind.Unrelated, vocab: Vocab, std: Std);
        using var _ = target;
        using var __ = draft;
        var prompt = new[] { 4, 0 };
        var settings = new SamplingParams(0.9, TopK: 5, TopP: 0.95);
        var exact = ExactDistribution(target, prompt, settings);
        var requests = Enumerable.Range(0, Samples).Select(i => new GenerationRequest(prompt, settings with { Seed = (ulong)(i + 7) },
            new StopCriteria(Array.Empty<int>(), NewTokens))).ToArray();
        var samples = AutoregressiveDecoder.Generate(new TargetVerifier(target), requests, capacity: 32);
        var (statistic, critical, _) = ChiSquare(exact, samples.Select(r => r.Tokens));
        Assert.True(statistic < critical, $"plain sampling deviates: chi2 {statistic:F1} >= {critical:F1}");
    }

    /// <summary>Probability of every continuation of <see cref="NewTokens"/> tokens, from full forwards of the target.</summary>
    private static Dictionary<string, double> ExactDistribution(CausalLm target, int[] prompt, SamplingParams settings)
    {
        var result = new Dictionary<string, double>();
        void Walk(List<int> sequence, double probability)
        {
            if (sequence.Count == prompt.Length + NewTokens) { result[Key(sequence.Skip(prompt.Length))] = probability; return; }
            var next = Sampler.Probabilities(TestModels.FullLastLogits(target, sequence), settings);
            for (int t = 0; t < next.Length; t++)
                if (next[t] > 0) Walk(sequence.Append(t).ToList(), probability * next[t]);
        }
        Walk(prompt.ToList(), 1.0);
        return result;
    }

    private static string Key(IEnumerable<int> tokens) => string.Join(",", tokens);

    /// <summary>Pearson's statistic with categories of expected count below 5 pooled; Wilson-Hilferty critical value.</summary>
    private static (double Statistic, double Critical, int Df) ChiSquare(Dictionary<string, double> exact, IEnumerable<int[]> samples)
    {
        var observed = new Dictionary<string, int>();
        int n = 0;
        foreach (var s in samples)
        {
            n++;
            string key = Key(s);
            observed[key] = observed.GetValueOrDefault(key) + 1;
        }
        double statistic = 0, pooledExpected = 0, pooledObserved = 0;
        int categories = 0;
        foreach (var (key, p) in exact)
        {
            double expected = p * n;
            int seen = observed.GetValueOrDefault(key);
            if (expected < 5) { pooledExpected += expected; pooledObserved += seen; continue; }
            statistic += (seen - expected) * (seen - expected) / expected;
            categories++;
        }
        // Anything outside the support (e.g. a token top-k/top-p must exclude) counts against the pooled bin.
        pooledObserved += observed.Where(kv => !exact.ContainsKey(kv.Key)).Sum(kv => kv.Value);
        if (pooledExpected > 0)
        {
            statistic += (pooledObserved - pooledExpected) * (pooledObserved - pooledExpected) / pooledExpected;
            categories++;
        }
        else if (pooledObserved > 0) statistic = double.PositiveInfinity;
        int df = categories - 1;
        double a = 2.0 / (9 * df);
        double critical = df * Math.Pow(1 - a + ZAlpha * Math.Sqrt(a), 3);
        return (statistic, critical, df);
    }
}
