using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The server's drafter of a conversation that an edge decoded in between: it catches up with the edge's steps (and the
/// new message) instead of being rebuilt, and what it drafts afterwards is still the target's own reply, accepted as deeply
/// as before (the draft here is the target itself, so a drafter whose cache missed or misplaced the tokens it caught up
/// with would be accepted about one token per step).
/// </summary>
[Trait("Kind", "cluster")]
public class ServerDraftCatchUpTests(ServerDraftClusterFixture f, ITestOutputHelper output) : IClassFixture<ServerDraftClusterFixture>
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ServerTurns_AroundAnEdgesTurn_CatchUp_AndEveryReplyIsTheTargets(bool sampled)
    {
        string id = $"test/server-draft-catch-up-{sampled}";
        const int newTokens = 32;
        var settings = sampled ? SessionTestHelpers.Sampled(seed: 11, maxNewTokens: newTokens) : SessionTestHelpers.Greedy(newTokens);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);

        await session.ChatAsync(SessionTestHelpers.Prompts[2]);
        var first = await session.GetAsync();
        using (var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id, new DraftTreeOptions { Budget = 8, MaxDepth = 4, MaxBeams = 4, BranchWidth = 3 }, capacity: 600))
        {
            await edge.AttachAsync();
            await edge.SendAsync(SessionTestHelpers.Prompts[4]);
            await edge.RunReplyAsync();
            await edge.DetachAsync();
        }
        var second = await session.GetAsync();
        await session.ChatAsync("And then what happened");
        var third = await session.GetAsync();

        var all = await CommittedTokensAsync(id);
        var starts = f.ReplyStarts(all);
        Assert.Equal(3, starts.Length);
        var ends = new[] { first.CommittedTokens, second.CommittedTokens, third.CommittedTokens };
        var reference = settings with { Seed = settings.Seed ?? 0 };
        for (int r = 0; r < 3; r++) Assert.Equal(f.ReferenceReply(all[..starts[r]], reference), all[starts[r]..ends[r]]);

        // Tokens per server step of the first turn (a fresh drafter) and of the third (the drafter caught up).
        double firstPerStep = (double)(ends[0] - starts[0]) / first.Step;
        double thirdPerStep = (double)(ends[2] - starts[2]) / (third.Step - second.Step);
        output.WriteLine($"tokens per server step: first turn {firstPerStep:F2}, after the edge's turn {thirdPerStep:F2}");
        Assert.True(ends[2] - starts[2] >= 16, $"the third reply has {ends[2] - starts[2]} tokens, too few to judge its drafting");
        // Greedy, the perfect draft's path is the target's: steps commit several tokens. Sampled, its trees are accepted
        // less deeply, but no less than a fresh drafter's were.
        Assert.True(thirdPerStep >= (sampled ? 0.8 * firstPerStep : 2.5),
            $"after catching up the server's perfect draft committed only {thirdPerStep:F2} tokens per step (first turn {firstPerStep:F2})");
    }

    private Task<int[]> CommittedTokensAsync(string sessionId) => SessionTestHelpers.CommittedTokensAsync(f.Client, sessionId);
}
