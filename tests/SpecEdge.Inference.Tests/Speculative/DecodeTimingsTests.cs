using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>The per-step record of a decode, which the capacity benchmark samples its acceptance distribution from.</summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class DecodeTimingsTests
{
    [Fact]
    public void StepTokens_OneEntryPerSequenceStep_SumToTheGeneratedTokens()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var random = new Random(5);
        var requests = Enumerable.Range(0, 3).Select(i => new GenerationRequest(
            TestModels.RandomTokens(random, 3 + 4 * i, target.Config.VocabSize), SamplingParams.Greedy,
            new StopCriteria(target.Config.EosTokenIds, MaxNewTokens: 20))).ToArray();
        var timings = new DecodeTimings();
        var results = SpeculativeDecoder.Generate(new TargetVerifier(target), draft, requests, new DraftTreeOptions { Budget = 8, MaxBeams = 4, BranchWidth = 3 }, 256, timings);

        Assert.Equal(results.Sum(r => r.TargetForwards), timings.StepTokens.Count);
        Assert.Equal(timings.DraftLatencies.Count, timings.StepTokens.Count);
        Assert.Equal(results.Sum(r => r.Tokens.Length), timings.StepTokens.Sum());
        Assert.All(timings.StepTokens, t => Assert.InRange(t, 1, 8 + 1));
    }
}
