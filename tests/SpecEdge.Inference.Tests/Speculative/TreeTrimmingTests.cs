using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Goodput trimming is lossless by construction, and these tests hold it to that: trees cut to every size, and cut by
/// the goodput rule itself, emit exactly target-only greedy decoding and target-only seeded sampling. Trees come best
/// first with path probabilities, so every prefix is a tree.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class TreeTrimmingTests(ITestOutputHelper output)
{
    private const int Capacity = 256;
    private static readonly DraftTreeOptions Tree = new() { Budget = 12, MaxDepth = 4, MaxBeams = 6, BranchWidth = 3 };

    private static GenerationRequest[] Requests(int vocab, bool greedy)
    {
        var random = new Random(5);
        return Enumerable.Range(0, 5).Select(i => new GenerationRequest(TestModels.RandomTokens(random, 3 + 3 * i, vocab),
            greedy ? SamplingParams.Greedy : new SamplingParams(0.9, TopP: 0.95) with { Seed = 77 + (ulong)i },
            new StopCriteria(Array.Empty<int>(), MaxNewTokens: 20))).ToArray();
    }

    [Theory]
    [InlineData("llama", DraftKind.Perturbed, true, false)]
    [InlineData("qwen3", DraftKind.SameAsTarget, true, true)]
    [InlineData("qwen3", DraftKind.Perturbed, false, false)]
    [InlineData("llama", DraftKind.Unrelated, false, true)]
    public void TreesCutToEverySize_EmitTargetOnlyTokens(string type, DraftKind kind, bool greedy, bool proactive)
    {
        var (target, draft) = Pair(type, kind);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = Requests(target.Config.VocabSize, greedy);
        var expected = AutoregressiveDecoder.Generate(verifier, requests, Capacity);
        var perForward = new List<string>();
        for (int nodes = 0; nodes <= Tree.Budget; nodes++)
        {
            var trimmer = new TreeTrimmer { Mode = TrimMode.Forced, ForcedNodes = nodes };
            var timings = new DecodeTimings();
            var actual = SpeculativeDecoder.Generate(verifier, draft, requests, Tree with { Proactive = proactive }, Capacity, timings, trimmer);
            for (int i = 0; i < requests.Length; i++) Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            Assert.True(timings.TreeNodes <= timings.Trees * nodes, $"cut to {nodes}: {timings.TreeNodes} nodes in {timings.Trees} trees");
            perForward.Add($"{nodes}: {actual.Sum(r => r.Tokens.Length) / (double)actual.Sum(r => r.TargetForwards):F2}");
        }
        // The goodput rule itself, with the cost line learnt as it goes (probes first, then its own choices).
        var goodput = SpeculativeDecoder.Generate(verifier, draft, requests, Tree with { Proactive = proactive }, Capacity, null, new TreeTrimmer());
        for (int i = 0; i < requests.Length; i++) Assert.Equal(expected[i].Tokens, goodput[i].Tokens);
        output.WriteLine("tokens per forward by nodes verified: " + string.Join(", ", perForward));
    }

    [Fact]
    public void DraftTrees_ComeBestFirst_WithPathProbabilities()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var prompt = TestModels.RandomTokens(new Random(3), 9, draft.Config.VocabSize);
        using var drafter = new TreeDrafter(draft, prompt, new DraftTreeOptions { Budget = 24, MaxDepth = 5, MaxBeams = 8, BranchWidth = 4 }, 128);
        var tree = drafter.BuildTree();
        Assert.NotNull(tree.Confidence);
        Assert.Equal(tree.Tokens.Length, tree.Confidence!.Length);
        Assert.True(tree.Tokens.Length > 10);
        for (int i = 1; i < tree.Tokens.Length; i++)
        {
            // Every prefix is a tree (parents first), and no node claims more than its parent or than the node before it.
            Assert.InRange(tree.Parents[i], 0, i - 1);
            Assert.True(tree.Confidence[i] >= tree.Confidence[tree.Parents[i]], $"node {i} is likelier than its parent");
            Assert.True(tree.Confidence[i] >= tree.Confidence[i - 1], $"node {i} is likelier than node {i - 1}: not best first");
        }
    }

    [Fact]
    public void AVerifierBudget_CapsTheNextTree_AndAnAbsurdOneIsNoCap()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var prompt = TestModels.RandomTokens(new Random(3), 9, draft.Config.VocabSize);
        var options = new DraftTreeOptions { Budget = 24, MaxDepth = 5, MaxBeams = 8, BranchWidth = 4 };
        int Nodes(int budget)
        {
            using var drafter = new TreeDrafter(draft, prompt, options, 128);
            drafter.ObserveVerifierBudget(budget);
            return drafter.BuildTree().Tokens.Length - 1;
        }
        Assert.Equal(24, Nodes(-1));
        Assert.Equal(4 * 2 + 4, Nodes(2));
        Assert.Equal(24, Nodes(int.MaxValue));     // from a broken or hostile server: no overflow into a negative cap
    }

    [Fact]
    public void PathConfidence_RoundTripsWithinItsStep()
    {
        foreach (double p in new[] { 1.0, 0.93, 0.5, 0.1, 0.013, 1e-4, 2e-5 })
        {
            double back = PathConfidence.Decode(PathConfidence.Encode(Math.Log(p)));
            Assert.InRange(back / p, 1 / 1.023, 1.023);
        }
        Assert.Equal(byte.MaxValue, PathConfidence.Encode(Math.Log(1e-9)));
        Assert.Equal(0, PathConfidence.Encode(0.5));           // above certainty is certainty
        Assert.Equal(byte.MaxValue, PathConfidence.Encode(double.NaN));
    }
}
