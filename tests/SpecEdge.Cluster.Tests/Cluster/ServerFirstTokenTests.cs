using System.Diagnostics;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// SpecEdge:ServerFirstToken (on in this fixture, as by default): with an edge attached, the session decodes the reply's
/// first step itself at turn start, so readers see the first token without waiting for the edge's first tree, and the
/// edge drafts from the token after it. The reply is still the target's own.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class ServerFirstTokenTests(ClusterFixture f)
{
    [Fact]
    public async Task TheTurnCommitsTheRepliesFirstToken_ReadersSeeIt_AndTheEdgesFirstTreeFollowsIt()
    {
        const string id = "test/first-token";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(12));
        // An edge that never drafts: whatever readers see before a tree arrives, the server committed.
        await session.AttachEdgeAsync("edge-idle", f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver()));
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[3]);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 12);

        Assert.Equal(expected.Take(1), turn.FirstTokens);
        Assert.False(turn.Finished);
        Assert.Equal(turn.Step + 1, turn.DraftStep);
        Assert.Equal(turn.CommittedLength + 1, turn.DraftCommittedLength);
        var snapshot = await session.GetAsync();
        for (int polls = 0; snapshot.CommittedTokens < turn.DraftCommittedLength && polls < 200; polls++)
        {
            await Task.Delay(25);   // a snapshot shows durable steps only, and the first step's write may still be in flight
            snapshot = await session.GetAsync();
        }
        Assert.Equal(turn.DraftCommittedLength, snapshot.CommittedTokens);
        Assert.Equal(turn.DraftStep, snapshot.Step);
        Assert.True(snapshot.Generating);

        // A reader gets the first token now, with no tree submitted.
        await using (var chunks = session.StreamReplyAsync().GetAsyncEnumerator())
        {
            Assert.True(await chunks.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal(expected.Take(1), chunks.Current.Tokens);
        }

        // A tree for the turn's own step is stale; the one after the first token is the edge's first step.
        await Assert.ThrowsAnyAsync<Exception>(() => session.SubmitTreeAsync(
            new TreeSubmission(id, "edge-idle", turn.Step, turn.CommittedLength, new[] { turn.AppendedTokens[^1], expected[0] }, new[] { -1, 0 })));
        var chain = new[] { turn.CommittedTokens[^1] }.Concat(expected.Skip(1).Take(3)).ToArray();
        var verdict = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-idle", turn.DraftStep, turn.DraftCommittedLength, chain, new[] { -1, 0, 1, 2 }));
        Assert.Equal(expected.Skip(1).Take(4), verdict.AcceptedTokens);

        await session.DetachEdgeAsync("edge-idle");   // the server finishes the reply
        var (reply, _) = await SessionTestHelpers.StreamedReplyAsync(session);
        Assert.Equal(expected, reply);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AnEdgeSessionShowsTheFirstTokenFirst_DraftsTheRest_AndTheReplyIsTheTargets(bool sampled)
    {
        string id = $"test/first-token-edge-{sampled}";
        var settings = sampled ? SessionTestHelpers.Sampled(seed: 31, maxNewTokens: 20) : SessionTestHelpers.Greedy(20) with { Seed = 0 };
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id, new() { Budget = 8 }, capacity: 600);
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[5]);
        var prompt = edge.Prompt;
        Assert.Equal(prompt.Length + 1, edge.Committed.Count);   // the first token is the edge's before it drafts

        var shown = new List<int[]>();
        var stats = await edge.RunReplyAsync(shown.Add);
        var reply = edge.Committed.Skip(prompt.Length).ToArray();
        Assert.Equal(f.ReferenceReply(prompt, settings), reply);
        Assert.Equal(reply, shown.SelectMany(t => t).ToArray());
        Assert.Single(shown[0]);                                  // the server's step, shown before any tree's verdict
        Assert.Equal(reply.Length, stats.Tokens);
        Assert.InRange(stats.Steps, 1, reply.Length - 1);         // the rest came from the edge's trees
        await edge.DetachAsync();
    }

    [Fact]
    public async Task ATurnABackendStarts_ReachesTheWaitingEdgeWithItsFirstToken_AndTheEdgeShowsTheWholeReply()
    {
        const string id = "test/first-token-backend";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(16));
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-waits", new() { Budget = 8 }, capacity: 600);
        await edge.AttachAsync();
        var waiting = edge.WaitForTurnAsync();
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[2]);   // the backend's message
        var told = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(turn.FirstTokens, told.FirstTokens);

        var shown = new List<int>();
        await edge.RunReplyAsync(shown.AddRange);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 16);
        Assert.Equal(expected, edge.Committed.Skip(edge.ReplyStart).ToArray());
        Assert.Equal(expected, shown);   // the server's first token included, once
        await edge.DetachAsync();
    }

    [Fact]
    public async Task AReplyThatEndsWithItsFirstToken_EndsWithTheTurn_AndTheEdgeDraftsNothing()
    {
        const string id = "test/first-token-only";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(1));
        var drafted = 0;
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-one", new() { Budget = 8 }, capacity: 600) { TreeDrafted = _ => drafted++ };
        await edge.AttachAsync();
        var clock = Stopwatch.StartNew();
        await edge.SendAsync(SessionTestHelpers.Prompts[0]);
        var stats = await edge.RunReplyAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(0, stats.Steps);
        Assert.Equal(0, drafted);
        Assert.Equal(1, stats.Tokens);
        Assert.Equal(f.ReferenceGreedy(edge.Prompt, 1), edge.Committed.Skip(edge.ReplyStart).ToArray());
        var snapshot = await SessionTestHelpers.SnapshotAfterReplyAsync(session);
        Assert.False(snapshot.Generating);
        Assert.Equal(new[] { "user", "assistant" }, snapshot.Messages.Select(m => m.Role));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"the one-token reply took {clock.Elapsed.TotalSeconds:F1} s: it waited for the edge's lease");
        await edge.DetachAsync();
    }
}
