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
        // Without hand-backs each root-only step commits one token: 40 edge steps. With them: 1 + 1, then 1 + 8 (6 steps),
        // and fewer still as the server decodes on while the edge drafts (its verdicts carry those tokens too).
        Assert.True(stats.Steps is >= 2 and <= 8, $"{stats.Steps} edge steps, tokens per step {string.Join(",", stats.Timings.Select(t => t.Tokens))}");
        Assert.Contains(stats.Timings, t => t.Tokens >= 1 + RootCutClusterFixture.HandBackSteps);
        // Once told its trees are cut to the root, the edge drafts at most four nodes.
        Assert.All(drafted.Skip(1), t => Assert.True(t.Tokens.Length <= 5, $"a tree of {t.Tokens.Length} tokens after the budget was known"));
        // The session stored as many tokens as the edge holds (readers see a step once its write completes: wait for the last).
        var stored = await session.GetAsync();
        for (int i = 0; i < 50 && stored.Generating; i++) { await Task.Delay(100); stored = await session.GetAsync(); }
        Assert.False(stored.Generating);
        Assert.Equal(edge.Committed.Count, stored.CommittedTokens);
    }

    [Fact]
    public async Task WhileTheEdgeDrafts_TheServerDecodesOn_AndTheEdgesNextTreeIsMovedPastWhatItCommitted()
    {
        const string id = "test/decode-while-edge-drafts";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(400));
        await session.AttachEdgeAsync("edge-slow", f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver()));
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[4]);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 400);

        // The first tree is cut to its root: its token, then a hand-back of one server step.
        var first = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-slow", turn.DraftStep, turn.DraftCommittedLength,
            new[] { turn.CommittedTokens[^1], expected[1], expected[2], expected[3] }, new[] { -1, 0, 1, 2 }));
        Assert.Equal(expected.Skip(1).Take(2), first.AcceptedTokens);
        Assert.Equal(1, first.ServerSteps);
        int length = turn.DraftCommittedLength + 2;
        long step = first.Verdict.NextStep;

        // The edge takes its time over the next tree; the server does not wait for it.
        var snapshot = await session.GetAsync();
        for (int polls = 0; snapshot.CommittedTokens < length + 3 && polls < 500; polls++)
        {
            await Task.Delay(10);
            snapshot = await session.GetAsync();
        }
        Assert.True(snapshot.CommittedTokens >= length + 3, $"the server decoded {snapshot.CommittedTokens - length} tokens while the edge drafted");
        Assert.True(snapshot.Generating);

        // The tree for where the hand-back left the edge (a chain along the reply): moved past the server's tokens, cut to
        // its root again, and followed by a run. Its verdict names the step it was sent for and carries every token since.
        var chain = expected.Skip(2).Take(31).ToArray();
        var next = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-slow", step, length, chain, Enumerable.Range(-1, chain.Length).ToArray()));
        Assert.Equal(step, next.Step);
        Assert.True(next.AcceptedTokens.Length >= 3 + 1 + RootCutClusterFixture.HandBackSteps, $"{next.AcceptedTokens.Length} tokens");
        Assert.Equal(expected.Skip(3).Take(next.AcceptedTokens.Length), next.AcceptedTokens);
        Assert.Equal(next.AcceptedTokens.Length - 1, next.ServerSteps);   // every token but the tree's own was a server step

        // A tree for the old point again is stale: only the tree the edge owes is moved on.
        await Assert.ThrowsAnyAsync<Exception>(() => session.SubmitTreeAsync(new TreeSubmission(id, "edge-slow", step, length, chain, Enumerable.Range(-1, chain.Length).ToArray())));
        await session.DetachEdgeAsync("edge-slow");
        var (reply, _) = await SessionTestHelpers.StreamedReplyAsync(session);
        Assert.Equal(expected, reply);
    }

    [Fact]
    public async Task AReplyTheServerFinishesWhileTheEdgeDrafts_AnswersTheEdgesTreeWithTheRestAndTheEnd()
    {
        const string id = "test/finished-while-edge-drafts";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(12));
        await session.AttachEdgeAsync("edge-late", f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver()));
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[6]);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 12);
        var first = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-late", turn.DraftStep, turn.DraftCommittedLength,
            new[] { turn.CommittedTokens[^1], expected[1] }, new[] { -1, 0 }));
        Assert.Equal(expected.Skip(1).Take(2), first.AcceptedTokens);
        var done = await SessionTestHelpers.SnapshotAfterReplyAsync(session);
        Assert.False(done.Generating, "the server did not finish the reply while the edge drafted");

        // The edge's tree comes after the end: it is answered, not refused, with the tokens it missed and the finish.
        var late = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-late", first.Verdict.NextStep, turn.DraftCommittedLength + 2,
            new[] { expected[2], expected[3] }, new[] { -1, 0 }));
        Assert.True(late.Finished);
        Assert.NotNull(late.FinishReason);
        Assert.Equal(first.Verdict.NextStep, late.Step);
        Assert.Equal(expected.Skip(3), late.AcceptedTokens);
        Assert.Equal(done.Step, late.Verdict.NextStep);
        await Assert.ThrowsAnyAsync<Exception>(() => session.SubmitTreeAsync(new TreeSubmission(id, "edge-late", first.Verdict.NextStep, turn.DraftCommittedLength + 2,
            new[] { expected[2], expected[3] }, new[] { -1, 0 })));   // once: the reply is over
        await session.DetachEdgeAsync("edge-late");
    }
}
