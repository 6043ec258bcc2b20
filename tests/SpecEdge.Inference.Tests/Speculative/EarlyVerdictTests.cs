using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// The split forward of early exits: every tree gets an early verdict half-way through its forward, which is the
/// acceptance rule applied to the exit head's logits (as a full recompute gives them), the final layer's verdict when the
/// exit is the final layer, and never changes an output token, whatever the head (a wrong one only loses its bets).
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class EarlyVerdictTests
{
    private const int Capacity = 256;
    private static readonly StopCriteria Stop = new(Array.Empty<int>(), 20);

    public static IEnumerable<object[]> Cases() =>
    [
        ["lens", 0.0], ["lens", 0.9], ["wrong", 0.0], ["wrong", 0.9], ["shortlist", 0.0], ["shortlist", 0.9],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputsStayTheTargets_WithEarlyVerdictsOn_WhateverTheHead(string head, double temperature)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        using var lens = EarlyExitHead.FromFinalLayer(target, 1);
        using var exit = TestExitHead(head, target, lens);
        var sampling = temperature == 0 ? SamplingParams.Greedy : new SamplingParams(Temperature: temperature, TopP: 0.95);
        var requests = Requests(target.Config.VocabSize, sampling, randomSeed: 11, seedBase: 70, promptBase: 5, promptStep: 4, Stop);
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), requests, Capacity);

        var early = new List<(TargetSequence Sequence, EarlyVerdict Verdict)>();
        var verifier = new TargetVerifier(target) { ExitHead = exit, EarlyVerdicts = (s, v) => early.Add((s, v)) };
        var results = SpeculativeDecoder.Generate(verifier, draft, requests, new DraftTreeOptions { Budget = 8, GreedyVerification = sampling.IsGreedy }, Capacity);
        for (int i = 0; i < requests.Length; i++) Assert.Equal(expected[i].Tokens, results[i].Tokens);
        Assert.True(early.Count >= results.Sum(r => r.TargetForwards) - requests.Length, $"{early.Count} early verdicts for {results.Sum(r => r.TargetForwards)} forwards");
        Assert.All(early, e => Assert.NotEmpty(e.Verdict.AcceptedTokens));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnEarlyVerdict_IsTheAcceptanceRuleOnTheHeadsLogits_AsAFullRecomputeGivesThem(bool shortlist)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        using var lens = EarlyExitHead.FromFinalLayer(target, 1);
        // A shortlist of the even ids: the head then scores those and the tree's own tokens only.
        using var exit = new EarlyExitHead(1, lens.Norm, lens.LmHead, lens.RmsNormEps)
            { Shortlist = shortlist ? Enumerable.Range(0, target.Config.VocabSize / 2).Select(i => 2 * i).ToArray() : null };
        EarlyVerdict? got = null;
        var verifier = new TargetVerifier(target) { ExitHead = exit, EarlyVerdicts = (_, v) => got = v };
        var prompt = TestModels.RandomTokens(new Random(12), 9, target.Config.VocabSize);
        using var sequence = verifier.Start(prompt, SamplingParams.Greedy, Stop, Capacity);
        using var drafter = new TreeDrafter(draft, prompt, new DraftTreeOptions { Budget = 12 }, Capacity);
        for (int step = 0; step < 3; step++)
        {
            var tree = drafter.BuildTree();
            var committed = sequence.Committed.ToArray();
            var columns = exit.Candidates(tree.Tokens);
            // Reference: each node's exit logits from a plain causal forward over the committed tokens and its path.
            var samples = new int[tree.Tokens.Length];
            for (int u = 0; u < tree.Tokens.Length; u++)
            {
                var path = new List<int>();
                for (int n = u; n > 0; n = tree.Parents[n]) path.Insert(0, tree.Tokens[n]);
                var tokens = committed.Concat(path).Select(t => (long)t).ToArray();
                using var noGrad = no_grad();
                var (_, hidden) = target.ForwardFull(tensor(tokens, new long[] { 1, tokens.Length }), exitAfterLayers: 1);
                long top = exit.Logits(hidden![0, -1], columns).argmax().item<long>();
                samples[u] = columns is null ? (int)top : (int)columns[top];
            }
            var (accepted, _, bonus) = TreeAcceptance.Accept(tree.Parents, tree.Tokens, samples);
            var final = verifier.Execute(new[] { new VerifyWork(sequence, tree) })[0].VerdictOrThrow();
            Assert.Equal(accepted.Select(n => tree.Tokens[n]).Append(bonus).ToArray(), got!.AcceptedTokens);
            Assert.Equal(final.Step, got.Step);
            drafter.ApplyVerdict(final);
            if (sequence.Finished) break;
        }
    }

    [Fact]
    public void AnExitAtTheFinalLayer_GivesTheFinalVerdict()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        using var lens = EarlyExitHead.FromFinalLayer(target, 1);
        using var atTheEnd = new EarlyExitHead(target.Config.NumHiddenLayers, lens.Norm, lens.LmHead, target.Config.RmsNormEps);
        EarlyVerdict? got = null;
        var verifier = new TargetVerifier(target) { ExitHead = atTheEnd, EarlyVerdicts = (_, v) => got = v };
        var prompt = TestModels.RandomTokens(new Random(13), 7, target.Config.VocabSize);
        using var sequence = verifier.Start(prompt, SamplingParams.Greedy, new StopCriteria(Array.Empty<int>(), 200), Capacity);
        using var drafter = new TreeDrafter(draft, prompt, new DraftTreeOptions { Budget = 8 }, Capacity);
        for (int step = 0; step < 5; step++)
        {
            var final = verifier.Execute(new[] { new VerifyWork(sequence, drafter.BuildTree()) })[0].VerdictOrThrow();
            Assert.Equal(final.AcceptedTokens, got!.AcceptedTokens);
            drafter.ApplyVerdict(final);
        }
    }
}
