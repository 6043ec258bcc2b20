using System.Threading.Channels;
using Orleans.BroadcastChannel;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The session's one step loop: requests that change the conversation run one at a time, an edge and the server are
/// interchangeable sources of trees, and nothing an edge does at the wrong moment loses or repeats a token.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class SessionStepLoopTests(ClusterFixture f)
{
    [Fact]
    public async Task DetachingWhileAStepIsInFlight_LetsTheStepFinish_AndTheServerContinuesExactly()
    {
        const string id = "test/detach-mid-step";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(20));
        await session.AttachEdgeAsync("edge-d", f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver()));
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[0]);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 20);
        var streamed = SessionTestHelpers.StreamedReplyAsync(session);

        // The tree and the detach race; either order must leave one consistent conversation.
        // The server decoded the reply's first token with the turn (SpecEdge:ServerFirstToken); the edge's tree follows it.
        Assert.Equal(expected.Take(1), turn.FirstTokens);
        var chain = new[] { turn.CommittedTokens[^1] }.Concat(expected.Skip(1).Take(3)).ToArray();
        var step = session.SubmitTreeAsync(new TreeSubmission(id, "edge-d", turn.DraftStep, turn.DraftCommittedLength, chain, new[] { -1, 0, 1, 2 }));
        var detach = session.DetachEdgeAsync("edge-d");
        await detach;
        try { Assert.Equal(expected.Skip(1).Take(4), (await step).AcceptedTokens); }
        catch (ArgumentException e) { Assert.Contains("not attached", e.Message); }   // the detach ran first

        var (tokens, _) = await streamed.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(expected, tokens);
        var final = await session.GetAsync();
        Assert.Equal(turn.CommittedLength + expected.Length, final.CommittedTokens);
    }

    [Fact]
    public async Task AnEdgeIdleLongerThanTheLeaseBeforeATurn_StillDraftsThatTurn()
    {
        const string id = "test/idle-before-turn";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(16));
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-idle", new() { Budget = 8 }, capacity: 600);
        await edge.AttachAsync();
        await Task.Delay(TimeSpan.FromSeconds(4));   // the fixture's lease is 3 s, and no reply was due

        await edge.SendAsync(SessionTestHelpers.Prompts[2]);
        var prompt = edge.Prompt;
        var stats = await edge.RunReplyAsync();
        Assert.Equal(f.ReferenceGreedy(prompt, 16), edge.Committed.Skip(prompt.Length).ToArray());
        Assert.True(stats.Steps > 0, "the edge, not the server, must have decoded the reply");
        Assert.Equal("edge-idle", (await session.GetAsync()).AttachedEdge);
        await edge.DetachAsync();
    }

    [Fact]
    public async Task MalformedTreesOverTheChannel_AreRefusedToTheEdge_AndChangeNothing()
    {
        const string id = "test/attacked-by-channel";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(16));
        var rejections = Channel.CreateUnbounded<TreeRejection>();
        // Orleans holds an observer object weakly: the test holds it until the end (a collection mid-test lost every
        // rejection after it: the CI failure of 2026-12-06).
        var recorder = new RejectionRecorder(rejections.Writer);
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(recorder);
        await session.AttachEdgeAsync("edge-c", observer);
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[1]);
        int n = turn.CommittedLength, vocab = f.Models.VocabSize;
        long step = turn.Step;
        var writer = f.Client.GetBroadcastChannelProvider(ChannelNames.Provider).GetChannelWriter<TreeSubmission>(ChannelId.Create(ChannelNames.TreeNamespace, id));

        // Each case as a function of the session's state: a refused tree does not renew the edge's lease (3 s in this
        // fixture), so the edge re-attaches before each one; had the lease lapsed on a loaded machine, the server would
        // have taken the reply over and the edge's trees would get no answer at all.
        var cases = new (Func<long, int, int, TreeSubmission> Tree, Func<long, int, string> Expected)[]
        {
            ((s, c, r) => new(id, "edge-c", s + 1, c, new[] { r, 5 }, new[] { -1, 0 }), (s, _) => $"is for step {s + 1}"),
            ((s, c, r) => new(id, "edge-c", s, c - 1, new[] { r, 5 }, new[] { -1, 0 }), (_, c) => $"assumes {c - 1} committed tokens"),
            ((s, c, r) => new(id, "edge-c", s, c, Enumerable.Repeat(r, 60).ToArray(), Enumerable.Range(-1, 60).ToArray()), (_, _) => "the limit is 40"),
            ((s, c, r) => new(id, "edge-c", s, c, new[] { r, vocab + 3 }, new[] { -1, 0 }), (_, _) => "outside the vocabulary"),
            ((s, c, r) => new(id, "edge-c", s, c, new[] { r, 5, 6 }, new[] { -1, 2, 0 }), (_, _) => "parents must be earlier nodes"),
            ((s, c, r) => new(id, "edge-c", s, c, new[] { r, 5, 5 }, new[] { -1, 0, 0 }), (_, _) => "repeats token 5"),
            ((s, c, r) => new(id, "edge-c", s, c, new[] { r + 1, 5 }, new[] { -1, 0 }), (_, _) => "root must be the last committed token"),
            ((s, c, r) => new("test/someone-else", "edge-c", s, c, new[] { r, 5 }, new[] { -1, 0 }), (_, _) => "addressed to session 'test/someone-else'"),
            ((s, c, r) => new(id, "edge-c", s, c, new[] { r, 5 }, new[] { -1, 0, 1 }), (_, _) => "2 tokens but 3 parents"),
        };
        foreach (var (tree, expected) in cases)
        {
            var attached = await session.AttachEdgeAsync("edge-c", observer);
            (step, n) = (attached.Step, attached.Committed.Length);
            await writer.Publish(tree(step, n, attached.Committed[^1]));
            var rejection = await rejections.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(expected(step, n), rejection.Error);
            var after = await session.GetAsync();
            Assert.Equal(n, after.CommittedTokens);
            Assert.Equal(step, after.Step);
        }

        // Then a real edge finishes the reply exactly.
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-c", new() { Budget = 8 }, capacity: 600);
        await edge.AttachAsync();
        await edge.RunReplyAsync();
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 16), edge.Committed.Skip(turn.CommittedLength).ToArray());
        GC.KeepAlive(recorder);
    }

    private sealed class RejectionRecorder(ChannelWriter<TreeRejection> rejections) : IEdgeObserver
    {
        public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;
        public Task OnRejected(TreeRejection rejection) => rejections.WriteAsync(rejection).AsTask();
        public Task OnEarlyVerdict(EarlyStepVerdict verdict) => Task.CompletedTask;
        public Task OnTurnStarted(TurnStarted turn) => Task.CompletedTask;
    }
}
