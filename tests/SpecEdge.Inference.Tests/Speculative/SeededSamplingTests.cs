using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Temperature &gt; 0 tested the way temperature 0 is: with draws keyed by (seed, position), every speculative path
/// must emit exactly the tokens of target-only sampling with the same seed, whatever the draft, tree, proactive bet
/// or batch, and a sequence rebuilt mid-reply (failover, eviction) must continue with the same tokens.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class SeededSamplingTests(ITestOutputHelper output)
{
    private const int Capacity = 256;

    private static readonly DraftTreeOptions[] TreeSettings =
    {
        new() { Budget = 8, MaxDepth = 4, MaxBeams = 4, BranchWidth = 3 },
        new() { Budget = 32, MaxDepth = 4, MaxBeams = 32, BranchWidth = 16 },
        new() { Budget = 3, MaxDepth = 3, MaxBeams = 1, BranchWidth = 1, ProactiveDepth = 2 },
    };

    private static GenerationRequest[] Requests(int vocab, ulong seedBase)
    {
        var random = new Random(11);
        var settings = new[] { new SamplingParams(0.8), new SamplingParams(1.2, TopP: 0.9), new SamplingParams(0.6, TopK: 5) };
        return Enumerable.Range(0, 6).Select(i => new GenerationRequest(
            TestModels.RandomTokens(random, 2 + 4 * i, vocab),
            settings[i % settings.Length] with { Seed = seedBase + (ulong)i },
            new StopCriteria(Array.Empty<int>(), MaxNewTokens: 24))).ToArray();
    }

    [Theory]
    [MemberData(nameof(LosslessGreedyTests.Cases), MemberType = typeof(LosslessGreedyTests))]
    public void SpeculativeSamples_EqualTargetOnlySamples_ForTheSameSeed(string type, DraftKind kind, bool proactive)
    {
        var (target, draft) = Pair(type, kind);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = Requests(target.Config.VocabSize, seedBase: 1000);
        var expected = AutoregressiveDecoder.Generate(verifier, requests, Capacity);

        foreach (var settings in TreeSettings)
        {
            var options = settings with { Proactive = proactive };
            var actual = SpeculativeDecoder.Generate(verifier, draft, requests, options, Capacity);
            for (int i = 0; i < requests.Length; i++) Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            double perForward = actual.Sum(r => r.Tokens.Length) / (double)actual.Sum(r => r.TargetForwards);
            output.WriteLine($"budget {options.Budget}: {perForward:F2} tokens per target forward");
            if (kind == DraftKind.SameAsTarget && options.Budget >= 8)
                Assert.True(perForward > 1.5, $"a perfect draft must still be accepted at temperature > 0, got {perForward:F2}");
        }

        // Alone instead of in a batch of six: the same tokens.
        var alone = SpeculativeDecoder.Generate(verifier, draft, new[] { requests[3] }, TreeSettings[0] with { Proactive = proactive }, Capacity);
        Assert.Equal(expected[3].Tokens, alone[0].Tokens);
    }

    [Fact]
    public void AnotherSeed_GivesAnotherSample_AndTheSameSeedTheSameOne()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var first = AutoregressiveDecoder.Generate(verifier, Requests(target.Config.VocabSize, 1000), Capacity);
        var again = AutoregressiveDecoder.Generate(verifier, Requests(target.Config.VocabSize, 1000), Capacity);
        var other = AutoregressiveDecoder.Generate(verifier, Requests(target.Config.VocabSize, 5000), Capacity);
        Assert.Equal(first.Select(r => r.Tokens), again.Select(r => r.Tokens));
        Assert.True(first.Zip(other).Count(p => !p.First.Tokens.SequenceEqual(p.Second.Tokens)) >= 4,
            "changing the seed must change most samples");
    }

    [Fact]
    public void SequenceRebuiltMidReply_ContinuesWithTheSameSamples()
    {
        var (target, draft) = Pair("llama", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var request = Requests(target.Config.VocabSize, 77)[4];
        var whole = AutoregressiveDecoder.Generate(verifier, new[] { request }, Capacity)[0].Tokens;

        // Stop after 9 tokens, then rebuild from the committed tokens only (what a new silo or an evicted cache gets)
        // and finish with speculative decoding instead.
        var head = AutoregressiveDecoder.Generate(verifier, new[] { request with { Stop = new StopCriteria(Array.Empty<int>(), 9) } }, Capacity)[0].Tokens;
        var committed = request.Prompt.Concat(head).ToArray();
        using var rebuilt = new TargetSequence(target.NewCache(Capacity), committed, request.Prompt.Length, request.Sampling, request.Stop, step: 9);
        verifier.Prefill(rebuilt);
        using var drafter = new TreeDrafter(draft, committed, new DraftTreeOptions { Budget = 8 }, Capacity, step: 9);
        while (!rebuilt.Finished)
        {
            var tree = drafter.BuildTree();
            rebuilt.Validate(tree, target.Config.VocabSize);
            drafter.ApplyVerdict(verifier.Verify(new[] { (rebuilt, tree) })[0]);
        }
        Assert.Equal(whole, rebuilt.Generated.ToArray());
    }
}
