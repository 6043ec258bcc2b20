using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Trimming through the grains: a verifier that cuts every tree to two nodes still commits exactly the target's own
/// tokens, for an edge (greedy and seeded sampling) and for server drafting; the edge learns the budget from the verdicts
/// and stops drafting much more than is verified.
/// </summary>
[Trait("Kind", "cluster")]
public class TrimmedTreeClusterTests(TrimmedTreeClusterFixture f) : IClassFixture<TrimmedTreeClusterFixture>
{
    private const int Nodes = TrimmedTreeClusterFixture.Nodes;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task EdgeTrees_CutToTwoNodes_CommitTheTargetsTokens_AndTheEdgeDraftsToTheBudget(bool sampled)
    {
        string id = $"test/trimmed-edge-{sampled}";
        var settings = sampled ? SessionTestHelpers.Sampled(seed: 42, maxNewTokens: 30) : SessionTestHelpers.Greedy(30);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);
        var drafted = new List<DraftMessage>();
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id,
            new DraftTreeOptions { Budget = 24, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4 }, capacity: 600) { TreeDrafted = drafted.Add };
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[2]);
        var prompt = edge.Prompt;
        var stats = await edge.RunReplyAsync();
        var reply = edge.Committed.Skip(prompt.Length).ToArray();
        await edge.DetachAsync();

        Assert.Equal(f.ReferenceReply(prompt, settings with { Seed = settings.Seed ?? 0 }), reply);
        // A perfect draft's depth-4 trees would commit up to 5 tokens a step; two verified nodes commit at most 3.
        Assert.All(stats.Timings, t => Assert.InRange(t.Tokens, 1, Nodes + 1));
        // The first tree is drafted to the edge's own budget (24 nodes); once told, the edge drafts four times the budget plus four.
        Assert.Equal(25, drafted[0].Tokens.Length);
        Assert.All(drafted.Skip(1), t => Assert.True(t.Tokens.Length <= 4 * Nodes + 5, $"a tree of {t.Tokens.Length} tokens after the budget was known"));
        Assert.All(drafted, t => Assert.Equal(t.Tokens.Length, t.Confidence?.Length));
    }

    [Fact]
    public async Task ServerDraftedTrees_CutToTwoNodes_CommitTheTargetsGreedyTokens()
    {
        var (prompt, reply) = await SessionTestHelpers.ServerDecodedGreedyAsync(f.Client, "test/trimmed-server", SessionTestHelpers.Prompts[4], 30);
        Assert.Equal(f.ReferenceGreedy(prompt, 30), reply);
    }
}
