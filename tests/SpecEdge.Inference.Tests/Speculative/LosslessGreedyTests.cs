using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>Temperature 0: every speculative path must reproduce the target's own greedy decoding token for token.</summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class LosslessGreedyTests(ITestOutputHelper output)
{
    private const int Capacity = 256;

    public static IEnumerable<object[]> Cases()
    {
        foreach (var type in new[] { "llama", "qwen3" })
        foreach (var kind in new[] { DraftKind.SameAsTarget, DraftKind.Perturbed, DraftKind.Unrelated })
        foreach (var proactive in new[] { false, true })
            yield return new object[] { type, kind, proactive };
    }

    private static readonly DraftTreeOptions[] TreeSettings =
    {
        new() { Budget = 8, MaxDepth = 4, MaxBeams = 4, BranchWidth = 3 },
        new() { Budget = 32, MaxDepth = 4, MaxBeams = 32, BranchWidth = 16 },   // the paper's defaults
        new() { Budget = 3, MaxDepth = 3, MaxBeams = 1, BranchWidth = 1, ProactiveDepth = 2 },  // a chain
        new() { Budget = 20, MaxDepth = 6, MaxBeams = 8, BranchWidth = 4, Decay = 0.8, ProactiveDepth = 3 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void SpeculativeOutput_EqualsTargetGreedy(string type, DraftKind kind, bool proactive)
    {
        var (target, draft) = Pair(type, kind);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var random = new Random(3);
        var requests = Enumerable.Range(0, 6).Select(i => new GenerationRequest(
            TestModels.RandomTokens(random, 2 + 5 * i, target.Config.VocabSize),
            SamplingParams.Greedy,
            new StopCriteria(target.Config.EosTokenIds, MaxNewTokens: 30))).ToArray();
        var expected = AutoregressiveDecoder.Generate(verifier, requests, Capacity);

        foreach (var settings in TreeSettings)
        {
            var options = settings with { Proactive = proactive };
            var actual = SpeculativeDecoder.Generate(verifier, draft, requests, options, Capacity);
            for (int i = 0; i < requests.Length; i++)
            {
                Assert.Equal(expected[i].Tokens, actual[i].Tokens);
                Assert.Equal(expected[i].Finish, actual[i].Finish);
            }
            double perForward = actual.Sum(r => r.Tokens.Length) / (double)actual.Sum(r => r.TargetForwards);
            output.WriteLine($"budget {options.Budget}: {perForward:F2} tokens per target forward, proactive hits {actual.Sum(r => r.ProactiveHits)} misses {actual.Sum(r => r.ProactiveMisses)}");
            if (kind == DraftKind.SameAsTarget) Assert.True(perForward > 2.5, $"a perfect draft must be accepted deeply, got {perForward:F2}");
            // The bet follows draft scores, not greedy order, so even a perfect draft loses some; it must win some,
            // which exercises the relocated pre-drafted subtree on the path checked above.
            if (kind == DraftKind.SameAsTarget && proactive && options.Budget > 3)
                Assert.True(actual.Sum(r => r.ProactiveHits) > 0, "a perfect draft must win some proactive bets");
        }
    }

    [Fact]
    public void StopConditions_CutTheReplyAtTheSameTokenAsPlainDecoding()
    {
        var (target, draft) = Pair("qwen3", DraftKind.SameAsTarget);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var prompt = TestModels.RandomTokens(new Random(5), 6, target.Config.VocabSize);
        var free = AutoregressiveDecoder.Generate(verifier, new[] { new GenerationRequest(prompt, SamplingParams.Greedy, new StopCriteria(Array.Empty<int>(), 40)) }, Capacity)[0];
        // Use the 13th greedy token as an "EOS" id, and a token sequence as a stop string.
        int eos = free.Tokens[12];
        int firstEos = Array.IndexOf(free.Tokens, eos);
        string Decode(IReadOnlyList<int> ids) => string.Concat(ids.Select(i => $"<{i}>"));
        string stop = $"<{free.Tokens[7]}><{free.Tokens[8]}>";
        var options = new DraftTreeOptions { Budget = 16 };
        foreach (var criteria in new[]
                 {
                     new StopCriteria(new[] { eos }, 40),
                     new StopCriteria(Array.Empty<int>(), 11),
                     new StopCriteria(Array.Empty<int>(), 40, new[] { stop }, Decode),
                 })
        {
            var request = new[] { new GenerationRequest(prompt, SamplingParams.Greedy, criteria) };
            var plain = AutoregressiveDecoder.Generate(verifier, request, Capacity)[0];
            var spec = SpeculativeDecoder.Generate(verifier, draft, request, options, Capacity)[0];
            Assert.Equal(plain.Tokens, spec.Tokens);
            Assert.Equal(plain.Finish, spec.Finish);
        }
        var eosRun = AutoregressiveDecoder.Generate(verifier, new[] { new GenerationRequest(prompt, SamplingParams.Greedy, new StopCriteria(new[] { eos }, 40)) }, Capacity)[0];
        Assert.Equal(free.Tokens[..(firstEos + 1)], eosRun.Tokens);
        Assert.Equal(FinishReason.EndOfSequence, eosRun.Finish);
    }
}
