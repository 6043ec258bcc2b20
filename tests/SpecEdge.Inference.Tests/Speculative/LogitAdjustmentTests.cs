using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Penalties and logit_bias act on the target's logits in verification, identically on every path: each emitted token is
/// the one the definition picks (OpenAI's presence/frequency penalties over this reply, the CTRL repetition penalty over
/// the whole context, the bias added) from a full recompute of the target, with the same position-keyed draw; and whole
/// trees, proactive drafts and trees cut to any size emit exactly the tokens plain decoding does. Drafts ignore the
/// penalties: acceptance absorbs the difference.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class LogitAdjustmentTests
{
    private const int Capacity = 256;
    private const double Tolerance = 1e-4;
    private static readonly DraftTreeOptions Tree = new() { Budget = 10, MaxDepth = 4, MaxBeams = 5, BranchWidth = 3 };

    private static GenerationRequest[] Requests(int vocab, SamplingParams sampling) =>
        SpeculativeTestModels.Requests(vocab, sampling with { Logprobs = 0 }, randomSeed: 5, seedBase: 71, promptBase: 5, promptStep: 3,
            new StopCriteria(Array.Empty<int>(), MaxNewTokens: 20));

    public static IEnumerable<object[]> Settings() => new[]
    {
        new object[] { "greedy-frequency-presence", SamplingParams.Greedy with { FrequencyPenalty = 1.5, PresencePenalty = 0.5 } },
        new object[] { "greedy-repetition", SamplingParams.Greedy with { RepetitionPenalty = 1.8 } },
        new object[] { "greedy-negative-presence", SamplingParams.Greedy with { PresencePenalty = -2 } },
        new object[] { "t0.9-all", new SamplingParams(0.9, TopP: 0.95) with
            {
                FrequencyPenalty = 0.7, PresencePenalty = 0.3, RepetitionPenalty = 1.2,
                LogitBias = new Dictionary<int, double> { [3] = 4, [5] = -100 },
            } },
    };

    /// <summary>The definition, in doubles on the host: what a row of target logits becomes before a token is chosen.</summary>
    private static float[] Definition(float[] row, SamplingParams p, IReadOnlyList<int> context, int replyStart)
    {
        var l = row.Select(x => (double)x).ToArray();
        foreach (int t in context.Distinct()) l[t] = l[t] > 0 ? l[t] / p.RepetitionPenalty : l[t] * p.RepetitionPenalty;
        foreach (var g in context.Skip(replyStart).GroupBy(t => t)) l[g.Key] -= p.FrequencyPenalty * g.Count() + p.PresencePenalty;
        foreach (var (t, b) in p.LogitBias ?? new Dictionary<int, double>()) l[t] += b;
        return l.Select(x => (float)x).ToArray();
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void EveryPath_EmitsWhatTheDefinitionPicks_FromTheAdjustedLogits(string name, SamplingParams sampling)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = Requests(target.Config.VocabSize, sampling);
        var plain = AutoregressiveDecoder.Generate(verifier, requests, Capacity);

        for (int i = 0; i < requests.Length; i++)
        {
            var prompt = requests[i].Prompt;
            var tokens = plain[i].Tokens;
            var logits = TestModels.FullLogits(target, prompt.Concat(tokens).ToArray());
            for (int j = 0; j < tokens.Length; j++)
            {
                var context = prompt.Concat(tokens.Take(j)).ToArray();
                var row = Definition(logits[prompt.Length - 1 + j], requests[i].Sampling, context, prompt.Length);
                double u = new SampleRng(requests[i].Sampling.Seed).At(context.Length);
                if (sampling.IsGreedy)
                {
                    // The emitted token is a maximum of the adjusted row (up to float rounding between the two sums).
                    Assert.True(row[tokens[j]] >= row.Max() - 1e-4, $"{name} #{i} token {j}: {tokens[j]} at {row[tokens[j]]}, max {row.Max()} at {Array.IndexOf(row, row.Max())}");
                }
                else
                {
                    Assert.Equal(Sampler.Sample(row, requests[i].Sampling, u), tokens[j]);
                    var probs = Sampler.Probabilities(row, requests[i].Sampling);
                    Assert.True(Math.Abs(Math.Log(probs[tokens[j]]) - plain[i].Logprobs[j].Logprob) < Tolerance,
                        $"{name} #{i} token {j}: logprob {plain[i].Logprobs[j].Logprob}, definition {Math.Log(probs[tokens[j]])}");
                }
            }
        }

        void AssertSame(GenerationResult[] actual, string path)
        {
            for (int i = 0; i < requests.Length; i++) Assert.True(plain[i].Tokens.SequenceEqual(actual[i].Tokens), $"{name}, {path}: request {i} differs from plain decoding.");
        }
        foreach (var (path, actual) in EveryPath(verifier, draft, requests, Tree, Capacity)) AssertSame(actual, path);
    }

    [Fact]
    public void Penalties_ChangeTheReply_AndABiasForcesOrBansAToken()
    {
        var (target, draft) = Pair("llama", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        int vocab = target.Config.VocabSize;
        var plain = SpeculativeDecoder.Generate(verifier, draft, Requests(vocab, SamplingParams.Greedy), Tree, Capacity);

        // A strong frequency penalty makes the greedy reply repeat itself less than the unpenalised one.
        var penalised = SpeculativeDecoder.Generate(verifier, draft, Requests(vocab, SamplingParams.Greedy with { FrequencyPenalty = 2 }), Tree, Capacity);
        Assert.Contains(Enumerable.Range(0, plain.Length), i => !plain[i].Tokens.SequenceEqual(penalised[i].Tokens));
        int Repeats(GenerationResult[] results) => results.Sum(r => r.Tokens.Length - r.Tokens.Distinct().Count());
        Assert.True(Repeats(penalised) < Repeats(plain), $"repeats: {Repeats(penalised)} penalised, {Repeats(plain)} plain");

        // +100 makes one token the greedy choice at every step; -100 keeps the plain reply's first token out of it.
        int forced = 7;
        var biased = SpeculativeDecoder.Generate(verifier, draft, Requests(vocab, SamplingParams.Greedy with { LogitBias = new Dictionary<int, double> { [forced] = 100 } }), Tree, Capacity);
        Assert.All(biased, r => Assert.All(r.Tokens, t => Assert.Equal(forced, t)));
        int first = plain[0].Tokens[0];
        var banned = SpeculativeDecoder.Generate(verifier, draft, Requests(vocab, SamplingParams.Greedy with { LogitBias = new Dictionary<int, double> { [first] = -100 } }), Tree, Capacity);
        Assert.DoesNotContain(first, banned[0].Tokens);
    }

    [Fact]
    public void OutOfRangeSettings_AreRefusedByName()
    {
        void Refused(SamplingParams p, string name, int vocab = 100)
        {
            var e = Assert.ThrowsAny<ArgumentException>(() => p.Validate(vocab));
            Assert.Contains(name, e.Message);
        }
        Refused(SamplingParams.Greedy with { PresencePenalty = 2.5 }, "presence_penalty");
        Refused(SamplingParams.Greedy with { FrequencyPenalty = double.NaN }, "frequency_penalty");
        Refused(SamplingParams.Greedy with { RepetitionPenalty = 0 }, "repetition_penalty");
        Refused(SamplingParams.Greedy with { RepetitionPenalty = 11 }, "repetition_penalty");
        Refused(SamplingParams.Greedy with { LogitBias = new Dictionary<int, double> { [3] = 101 } }, "logit_bias");
        Refused(SamplingParams.Greedy with { LogitBias = new Dictionary<int, double> { [-1] = 1 } }, "logit_bias");
        Refused(SamplingParams.Greedy with { LogitBias = new Dictionary<int, double> { [100] = 1 } }, "vocabulary");
        Refused(SamplingParams.Greedy with { LogitBias = Enumerable.Range(0, 301).ToDictionary(t => t, _ => 1.0) }, "300", vocab: 1000);
        SamplingParams.Greedy.Validate(100);   // the defaults adjust nothing and pass
        Assert.False(SamplingParams.Greedy.AdjustsLogits);
    }
}
