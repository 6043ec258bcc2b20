using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Edges with adaptive trees through a real cluster: ceilings above the verifier's MaxTreeNodes (40) are cut to it, every
/// reply is the target's greedy decoding, and a perfect draft is drafted deeper than the fixed depth 4 allows.
/// </summary>
[Collection(ClusterCollection.Name)]
public class AdaptiveTreeClusterTests(ClusterFixture f, ITestOutputHelper output)
{
    private static readonly DraftTreeOptions Adaptive = new()
    {
        Budget = 64, MaxDepth = 8, MaxBeams = 8, BranchWidth = 4,
        Adaptive = new AdaptiveTreeOptions { MinBudget = 2, NodesPerLevel = 4 },
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AdaptiveEdges_ProduceTheTargetsGreedyOutput_AndGoDeepWithAGoodDraft(bool proactive)
    {
        var runs = Enumerable.Range(0, 4).Select(i => SessionTestHelpers.EdgeReplyAsync(f, $"test/adaptive-{proactive}-{i}",
            SessionTestHelpers.Prompts[i], i % 2 == 0 ? f.PerfectDraft : f.UnrelatedDraft, proactive, maxNewTokens: 32, tree: Adaptive)).ToArray();
        var results = await Task.WhenAll(runs);
        for (int i = 0; i < results.Length; i++)
        {
            var (reply, prompt, stats) = results[i];
            Assert.Equal(f.ReferenceGreedy(prompt, 32), reply);
            output.WriteLine($"session {i}: {reply.Length} tokens in {stats.Steps} steps ({stats.TokensPerStep:F2}/step)");
        }
        // A fixed depth-4 tree yields at most 5 tokens per step; only deeper adaptive trees get past that on average.
        Assert.True(results[0].Stats.TokensPerStep > 5, $"a perfect draft should be drafted deeper than 4, got {results[0].Stats.TokensPerStep:F2} tokens/step");
    }
}
