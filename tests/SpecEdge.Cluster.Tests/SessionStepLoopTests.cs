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
        var chain = new[] { turn.AppendedTokens[^1] }.Concat(expected.Take(3)).ToArray();
        var step = session.SubmitTreeAsync(new TreeSubmission(id, "edge-d", turn.Step, turn.CommittedLength, chain, new[] { -1, 0, 1, 2 }));
        var detach = session.DetachEdgeAsync("edge-d");
        await detach;
        try { Assert.Equal(expected.Take(4), (await step).AcceptedTokens); }
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
        var prompt = edge.Committed.ToArray();
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
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new RejectionRecorder(rejections.Writer));
        await session.AttachEdgeAsync("edge-c", observer);
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[1]);
        int n = turn.CommittedLength, root = turn.AppendedTokens[^1], vocab = f.Models.VocabSize;
        long step = turn.Step;
        var writer = f.Client.GetBroadcastChannelProvider(ChannelNames.Provider).GetChannelWriter<TreeSubmission>(ChannelId.Create(ChannelNames.TreeNamespace, id));

        var cases = new (TreeSubmission Tree, string Expected)[]
        {
            (new(id, "edge-c", step + 1, n, new[] { root, 5 }, new[] { -1, 0 }), $"is for step {step + 1}"),
            (new(id, "edge-c", step, n - 1, new[] { root, 5 }, new[] { -1, 0 }), $"assumes {n - 1} committed tokens"),
            (new(id, "edge-c", step, n, Enumerable.Repeat(root, 60).ToArray(), Enumerable.Range(-1, 60).ToArray()), "the limit is 40"),
            (new(id, "edge-c", step, n, new[] { root, vocab + 3 }, new[] { -1, 0 }), "outside the vocabulary"),
            (new(id, "edge-c", step, n, new[] { root, 5, 6 }, new[] { -1, 2, 0 }), "parents must be earlier nodes"),
            (new(id, "edge-c", step, n, new[] { root, 5, 5 }, new[] { -1, 0, 0 }), "repeats token 5"),
            (new(id, "edge-c", step, n, new[] { root + 1, 5 }, new[] { -1, 0 }), "root must be the last committed token"),
            (new("test/someone-else", "edge-c", step, n, new[] { root, 5 }, new[] { -1, 0 }), "addressed to session 'test/someone-else'"),
            (new(id, "edge-c", step, n, new[] { root, 5 }, new[] { -1, 0, 1 }), "2 tokens but 3 parents"),
        };
        foreach (var (tree, expected) in cases)
        {
            await writer.Publish(tree);
            var rejection = await rejections.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Contains(expected, rejection.Error);
            var after = await session.GetAsync();
            Assert.Equal(n, after.CommittedTokens);
            Assert.Equal(step, after.Step);
        }

        // Then a real edge finishes the reply exactly.
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-c", new() { Budget = 8 }, capacity: 600);
        await edge.AttachAsync();
        await edge.RunReplyAsync();
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 16), edge.Committed.Skip(n).ToArray());
    }

    private sealed class RejectionRecorder(ChannelWriter<TreeRejection> rejections) : IEdgeObserver
    {
        public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;
        public Task OnRejected(TreeRejection rejection) => rejections.WriteAsync(rejection).AsTask();
        public Task OnTurnStarted(TurnStarted turn) => Task.CompletedTask;
    }
}
