using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Log probabilities come from the target's distribution at each emitted token, the one the token was drawn from, and so
/// do not depend on how the token was decoded: plain decoding, whole trees, trees cut to any size and proactive drafts
/// all report the same numbers, and those equal the definition (<see cref="Sampler.Probabilities"/>, host arithmetic)
/// applied to a full recompute of the target over the reply.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class LogprobsTests
{
    private const int Capacity = 256;
    private const double Tolerance = 1e-4;
    private static readonly DraftTreeOptions Tree = new() { Budget = 10, MaxDepth = 4, MaxBeams = 5, BranchWidth = 3 };

    private static GenerationRequest[] Requests(int vocab, SamplingParams sampling, int top) =>
        SpeculativeTestModels.Requests(vocab, sampling with { Logprobs = top }, randomSeed: 11, seedBase: 31, promptBase: 4, promptStep: 2,
            new StopCriteria(Array.Empty<int>(), MaxNewTokens: 16));

    public static IEnumerable<object[]> Settings() => new[]
    {
        new object[] { "greedy", SamplingParams.Greedy, 5 },
        new object[] { "t0.8-topp0.9", new SamplingParams(0.8, TopP: 0.9), 5 },
        new object[] { "t1.2-topk4", new SamplingParams(1.2, TopK: 4), 6 },
        new object[] { "t0.7-chosen-only", new SamplingParams(0.7), 0 },
        new object[] { "t1.0-minp0.1-topp0.95", new SamplingParams(1.0, TopP: 0.95) { MinP = 0.1 }, 8 },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void EveryPath_ReportsTheDistributionTheTokenWasDrawnFrom(string name, SamplingParams sampling, int top)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = Requests(target.Config.VocabSize, sampling, top);
        var plain = AutoregressiveDecoder.Generate(verifier, requests, Capacity);

        // The definition, from a full forward over prompt + reply: row p predicts the token at p + 1.
        for (int i = 0; i < requests.Length; i++)
        {
            var tokens = plain[i].Tokens;
            Assert.Equal(tokens.Length, plain[i].Logprobs.Count);
            var logits = TestModels.FullLogits(target, requests[i].Prompt.Concat(tokens).ToArray());
            var distribution = sampling.IsGreedy ? new SamplingParams(1.0) : sampling;
            for (int j = 0; j < tokens.Length; j++)
            {
                var probs = Sampler.Probabilities(logits[requests[i].Prompt.Length - 1 + j], distribution);
                var reported = plain[i].Logprobs[j];
                Assert.Equal(tokens[j], reported.Token);
                Assert.True(Math.Abs(Math.Log(probs[tokens[j]]) - reported.Logprob) < Tolerance,
                    $"{name} #{i} token {j}: reported {reported.Logprob}, definition {Math.Log(probs[tokens[j]])}");
                var expectedTop = Enumerable.Range(0, probs.Length).Where(t => probs[t] > 0)
                    .OrderByDescending(t => probs[t]).ThenBy(t => t).Take(top).ToArray();
                Assert.Equal(expectedTop.Length, reported.TopTokens.Length);
                for (int k = 0; k < expectedTop.Length; k++)
                    Assert.True(Math.Abs(Math.Log(probs[expectedTop[k]]) - reported.TopLogprobs[k]) < Tolerance,
                        $"{name} #{i} token {j}: alternative {k} is {reported.TopLogprobs[k]}, definition {Math.Log(probs[expectedTop[k]])}");
            }
        }

        // Every decoding path reports the same numbers for the same tokens.
        void AssertSame(GenerationResult[] actual, string path)
        {
            for (int i = 0; i < requests.Length; i++)
            {
                Assert.Equal(plain[i].Tokens, actual[i].Tokens);
                Assert.Equal(plain[i].Logprobs.Count, actual[i].Logprobs.Count);
                for (int j = 0; j < plain[i].Logprobs.Count; j++)
                {
                    var (a, b) = (plain[i].Logprobs[j], actual[i].Logprobs[j]);
                    Assert.True(Math.Abs(a.Logprob - b.Logprob) < Tolerance, $"{name}, {path}: #{i} token {j}: {a.Logprob} vs {b.Logprob}");
                    Assert.Equal(a.TopLogprobs.Length, b.TopLogprobs.Length);
                    for (int k = 0; k < a.TopLogprobs.Length; k++) Assert.True(Math.Abs(a.TopLogprobs[k] - b.TopLogprobs[k]) < Tolerance);
                }
            }
        }
        foreach (var (path, actual) in EveryPath(verifier, draft, requests, Tree, Capacity)) AssertSame(actual, path);
    }

    [Fact]
    public void NotAskedFor_NothingIsReported_AndTheTokensAreTheSame()
    {
        var (target, draft) = Pair("llama", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var sampling = new SamplingParams(0.9, TopP: 0.95);
        var asked = SpeculativeDecoder.Generate(verifier, draft, Requests(target.Config.VocabSize, sampling, 3), Tree, Capacity);
        var silent = SpeculativeDecoder.Generate(verifier, draft, Requests(target.Config.VocabSize, sampling, -1), Tree, Capacity);
        for (int i = 0; i < asked.Length; i++)
        {
            Assert.Equal(asked[i].Tokens, silent[i].Tokens);
            Assert.Empty(silent[i].Logprobs);
            Assert.Equal(asked[i].Tokens.Length, asked[i].Logprobs.Count);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => (SamplingParams.Greedy with { Logprobs = SamplingParams.MaxTopLogprobs + 1 }).Validate());
    }
}
