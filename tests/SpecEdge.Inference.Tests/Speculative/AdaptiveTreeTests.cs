using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Adaptive trees (<see cref="AdaptiveTreePolicy"/>): the output stays the target's greedy decoding for every tree
/// shape the policy can choose and for the policy itself, and the policy follows acceptance and load within its ceilings.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class AdaptiveTreeTests(ITestOutputHelper output)
{
    private const int Capacity = 256;

    private static readonly DraftTreeOptions Ceilings = new()
    {
        Budget = 12, MaxDepth = 6, MaxBeams = 6, BranchWidth = 4, ProactiveDepth = 2,
        Adaptive = new AdaptiveTreeOptions { MinBudget = 2, MinDepth = 1, NodesPerLevel = 2, VerifierTokenKnee = 40 },
    };

    private static GenerationRequest[] Requests(int vocab, int eos) => Enumerable.Range(0, 3).Select(i => new GenerationRequest(
        TestModels.RandomTokens(new Random(11 + i), 3 + 4 * i, vocab), SamplingParams.Greedy, new StopCriteria(new[] { eos }, MaxNewTokens: 24))).ToArray();

    [Fact]
    public void EveryShapeThePolicyCanChoose_ReproducesTargetGreedy()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = Requests(target.Config.VocabSize, target.Config.EosTokenIds[0]);
        var expected = AutoregressiveDecoder.Generate(verifier, requests, Capacity);
        var a = Ceilings.Adaptive!;
        for (int depth = a.MinDepth; depth <= Ceilings.MaxDepth; depth++)
            for (int budget = a.MinBudget; budget <= Ceilings.Budget; budget++)
            {
                // The fixed tree of exactly this shape: what the policy builds when it chooses (budget, depth).
                var shape = Ceilings with { Adaptive = null, Budget = budget, MaxDepth = depth, ProactiveDepth = Math.Min(2, depth), Proactive = budget % 2 == 0 };
                var actual = SpeculativeDecoder.Generate(verifier, draft, requests, shape, Capacity);
                for (int i = 0; i < requests.Length; i++)
                    Assert.True(expected[i].Tokens.SequenceEqual(actual[i].Tokens), $"budget {budget}, depth {depth}, request {i}: output differs from target greedy");
            }
    }

    [Theory]
    [InlineData("qwen3", DraftKind.SameAsTarget, false)]
    [InlineData("qwen3", DraftKind.SameAsTarget, true)]
    [InlineData("llama", DraftKind.Perturbed, true)]
    [InlineData("llama", DraftKind.Unrelated, false)]
    public void AdaptiveTrees_ReproduceTargetGreedy(string type, DraftKind kind, bool proactive)
    {
        var (target, draft) = Pair(type, kind);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = Requests(target.Config.VocabSize, target.Config.EosTokenIds[0]);
        var expected = AutoregressiveDecoder.Generate(verifier, requests, Capacity);
        var actual = SpeculativeDecoder.Generate(verifier, draft, requests, Ceilings with { Proactive = proactive }, Capacity);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            Assert.Equal(expected[i].Finish, actual[i].Finish);
        }
        double perForward = actual.Sum(r => r.Tokens.Length) / (double)actual.Sum(r => r.TargetForwards);
        output.WriteLine($"{type} {kind} proactive={proactive}: {perForward:F2} tokens per target forward");
        // A perfect draft lets the policy deepen past the fixed default (depth 4): more than 4 tokens per forward.
        if (kind == DraftKind.SameAsTarget) Assert.True(perForward > 4.0, $"a perfect draft must drive trees deep, got {perForward:F2}");
    }

    [Fact]
    public void Policy_DeepensOnFullAcceptance_ShrinksOnRejection_AndNeverExceedsItsCeilings()
    {
        var policy = new AdaptiveTreePolicy(Ceilings);
        var (budget, depth) = policy.Next();
        for (int i = 0; i < 10; i++) { policy.ObserveStep(depth, depth); (budget, depth) = policy.Next(); }
        Assert.Equal(Ceilings.MaxDepth, depth);
        Assert.Equal(Ceilings.Budget, budget);
        for (int i = 0; i < 20; i++) { policy.ObserveStep(0, depth); (budget, depth) = policy.Next(); }
        Assert.True(depth <= 3 && budget <= 6, $"after 20 rejected steps the tree should be small, got depth {depth}, budget {budget}");

        // Load: 8 trees in a forward with a 40-token knee leave 40/8 - 1 = 4 nodes per tree.
        for (int i = 0; i < 10; i++) policy.ObserveStep(6, 6);
        policy.ObserveServer(batch: 6, queue: 2, serverMs: 10, roundTripMs: 10);
        (budget, _) = policy.Next();
        Assert.Equal(4, budget);

        var random = new Random(5);
        var a = Ceilings.Adaptive!;
        for (int i = 0; i < 2000; i++)
        {
            policy.ObserveServer(random.Next(0, 20), random.Next(0, 5), random.NextDouble() * 20, random.NextDouble() * 100);
            policy.ObserveStep(random.Next(0, 8), random.Next(1, 7));
            (budget, depth) = policy.Next();
            Assert.InRange(budget, a.MinBudget, Ceilings.Budget);
            Assert.InRange(depth, a.MinDepth, Ceilings.MaxDepth);
        }
    }

    [Fact]
    public void Policy_RefusesSettingsOutsideTheTreeCeilings()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => (Ceilings with { Adaptive = new AdaptiveTreeOptions { MinBudget = 13 } }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (Ceilings with { Adaptive = new AdaptiveTreeOptions { MinDepth = 7 } }).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => (Ceilings with { Adaptive = new AdaptiveTreeOptions { Smoothing = 0 } }).Validate());
    }
}
