using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Early verdicts through the grains: the verifier tells the edge that sent a tree what its exit head would accept,
/// before the verdict; an edge that drafts ahead on them, and one that ignores them, both get exactly the target's own
/// reply (greedy and seeded sampling), by channel and by direct call. Server-decoded replies are untouched by the split.
/// </summary>
[Trait("Kind", "cluster")]
public class EarlyVerdictClusterTests(EarlyVerdictClusterFixture f, ITestOutputHelper output) : IClassFixture<EarlyVerdictClusterFixture>
{
    public static IEnumerable<object[]> Cases() =>
    [
        [false, TreeTransport.Channel, true], [true, TreeTransport.Channel, true],
        [false, TreeTransport.DirectCall, true], [true, TreeTransport.DirectCall, false],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task AnEdgeGetsEarlyVerdicts_AndItsReplyIsTheTargets_WhetherOrNotItDraftsAhead(bool sampled, TreeTransport transport, bool draftAhead)
    {
        string id = $"test/early-{sampled}-{transport}-{draftAhead}";
        var settings = sampled ? SessionTestHelpers.Sampled(seed: 7, maxNewTokens: 40) : SessionTestHelpers.Greedy(40);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);
        var options = new DraftTreeOptions { Budget = 12, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4, Proactive = true, DraftAhead = draftAhead };
        using var edge = new EdgeSession(f.Client, f.UnrelatedDraft, id, "edge-" + id, options, capacity: 700, transport);
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[3]);
        var prompt = edge.Prompt;
        var stats = await edge.RunReplyAsync();
        var reply = edge.Committed.Skip(prompt.Length).ToArray();
        await edge.DetachAsync();

        Assert.Equal(f.ReferenceReply(prompt, settings with { Seed = settings.Seed ?? 0 }), reply);
        // One early verdict per verified tree (trees are verified whole here); they are one-way, so the last may still be on its way.
        for (var wait = System.Diagnostics.Stopwatch.StartNew(); edge.EarlyVerdictsReceived < stats.Steps && wait.Elapsed < TimeSpan.FromSeconds(5);)
            await Task.Delay(20);
        Assert.Equal(stats.Steps, edge.EarlyVerdictsReceived);
        if (!draftAhead) Assert.Equal(0, stats.EarlyHits + stats.EarlyMisses);
        output.WriteLine($"{stats.Steps} steps, {stats.Tokens} tokens; early verdicts {edge.EarlyVerdictsReceived}, drafted-ahead bets {stats.EarlyHits} hit / {stats.EarlyMisses} missed; proactive {stats.ProactiveHits} hit / {stats.ProactiveMisses} missed");
    }

    [Fact]
    public async Task AServerDecodedReply_IsTheTargets_OnASplittingVerifier()
    {
        var (prompt, reply) = await SessionTestHelpers.ServerDecodedGreedyAsync(f.Client, "test/early-server", SessionTestHelpers.Prompts[1], 30);
        Assert.Equal(f.ReferenceGreedy(prompt, 30), reply);
    }
}
