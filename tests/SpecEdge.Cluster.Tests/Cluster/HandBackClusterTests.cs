using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Hand-backs through the grains: a verifier that cuts every edge tree to its root makes the session decode runs of plain
/// steps on the server (1, then 8 at most here), whose tokens reach the edge with the verdict. The reply is still
/// exactly the target's (greedy and seeded sampling, by channel and by call), the session stores what the edge holds,
/// and the edge's loop runs once per run instead of once per token.
/// </summary>
[Trait("Kind", "cluster")]
public class HandBackClusterTests(RootCutClusterFixture f) : IClassFixture<RootCutClusterFixture>
{
    [Theory]
    [InlineData(false, TreeTransport.Channel)]
    [InlineData(true, TreeTransport.Channel)]
    [InlineData(false, TreeTransport.DirectCall)]
    public async Task RootCutTrees_HandDecodingBackToTheServer_AndTheReplyIsTheTargets(bool sampled, TreeTransport transport)
    {
        string id = $"test/hand-back-{sampled}-{transport}";
        const int newTokens = 40;
        var settings = sampled ? SessionTestHelpers.Sampled(seed: 7, maxNewTokens: newTokens) : SessionTestHelpers.Greedy(newTokens);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);
        var drafted = new List<DraftMessage>();
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id,
            new DraftTreeOptions { Budget = 16, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4 }, capacity: 600, transport) { TreeDrafted = drafted.Add };
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[1]);
        var prompt = edge.Prompt;
        var stats = await edge.RunReplyAsync();
        var reply = edge.Committed.Skip(prompt.Length).ToArray();
        await edge.DetachAsync();

        Assert.Equal(f.ReferenceReply(prompt, settings with { Seed = settings.Seed ?? 0 }), reply);
        Assert.Equal(newTokens, stats.Tokens);
        // Without hand-backs each root-only step commits one token: 40 edge steps. With them: 1 + 1, then 1 + 8 (6 steps).
        Assert.InRange(stats.Steps, 5, 8);
        Assert.Contains(stats.Timings, t => t.Tokens == 1 + RootCutClusterFixture.HandBackSteps);
        // Once told its trees are cut to the root, the edge drafts at most four nodes.
        Assert.All(drafted.Skip(1), t => Assert.True(t.Tokens.Length <= 5, $"a tree of {t.Tokens.Length} tokens after the budget was known"));
        // The session stored as many tokens as the edge holds (readers see a step once its write completes: wait for the last).
        var stored = await session.GetAsync();
        for (int i = 0; i < 50 && stored.Generating; i++) { await Task.Delay(100); stored = await session.GetAsync(); }
        Assert.False(stored.Generating);
        Assert.Equal(edge.Committed.Count, stored.CommittedTokens);
    }
}
