using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Edges with adaptive trees through a real cluster: ceilings above the verifier's MaxTreeNodes (40) are cut to it, every
/// reply is the target's greedy decoding, and a perfect draft is drafted deeper than the fixed depth 4 allows.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
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
        // A perfect draft's trees go deeper than the fixed depth 4. Measured on the trees sent, not on the tokens per step:
        // the verifier trims each tree to what pays at its load (goodput trimming), which is not what this test is about.
        var deep = await DeepestTreeAsync($"test/adaptive-depth-{proactive}", SessionTestHelpers.Prompts[0], proactive);
        Assert.True(deep > 4, $"a perfect draft should be drafted deeper than 4, its deepest tree was {deep}");
    }

    private async Task<int> DeepestTreeAsync(string id, string text, bool proactive)
    {
        await f.Client.GetGrain<SpecEdge.Contracts.ISessionGrain>(id).ConfigureAsync(SessionTestHelpers.Greedy(32));
        var drafted = new List<DraftMessage>();
        using var edge = new SpecEdge.EdgeClient.EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id, Adaptive with { Proactive = proactive }, capacity: 600) { TreeDrafted = drafted.Add };
        await edge.AttachAsync();
        await edge.SendAsync(text);
        await edge.RunReplyAsync();
        await edge.DetachAsync();
        return drafted.Max(t =>
        {
            var depth = new int[t.Tokens.Length];
            for (int i = 1; i < depth.Length; i++) depth[i] = depth[t.Parents[i]] + 1;
            return depth.Max();
        });
    }
}
