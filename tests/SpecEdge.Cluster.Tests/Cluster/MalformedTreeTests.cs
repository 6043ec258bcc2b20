using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>Every malformed tree gets a clear error, leaves its conversation untouched, and disturbs no other session.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class MalformedTreeTests(ClusterFixture f)
{

    [Fact]
    public async Task MalformedTrees_AreRefusedWithClearErrors_AndNothingIsLost()
    {
        // A healthy edge session runs concurrently the whole time.
        var healthy = SessionTestHelpers.EdgeReplyAsync(f, "test/healthy-neighbour", SessionTestHelpers.Prompts[6], f.PerfectDraft, proactive: true, maxNewTokens: 40);

        const string id = "test/attacked";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(16));
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        await session.AttachEdgeAsync("edge-a", observer);
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[1]);
        var attachment = await session.AttachEdgeAsync("edge-a", observer);
        int n = attachment.Committed.Length;
        int root = attachment.Committed[^1];
        long step = attachment.Step;
        int vocab = attachment.VocabSize;

        var cases = new (TreeSubmission Tree, string Expected)[]
        {
            (new(id, "edge-a", step + 1, n, new[] { root, 5 }, new[] { -1, 0 }), $"is for step {step + 1} but session 'test/attacked' is at step {step}"),
            (new(id, "edge-a", step, n - 1, new[] { root, 5 }, new[] { -1, 0 }), $"assumes {n - 1} committed tokens but session 'test/attacked' has {n}"),
            (new(id, "edge-a", step, n, Enumerable.Repeat(root, 60).ToArray(), Enumerable.Range(-1, 60).ToArray()), "59 nodes besides the root; the limit is 40"),
            (new(id, "edge-a", step, n, new[] { root, vocab + 3 }, new[] { -1, 0 }), $"Token id {vocab + 3} at node 1 is outside the vocabulary"),
            (new(id, "edge-a", step, n, new[] { root, 5, 6 }, new[] { -1, 2, 0 }), "Node 1 has parent 2; parents must be earlier nodes"),
            (new(id, "edge-a", step, n, new[] { root, 5, 6 }, new[] { -1, 1, 0 }), "Node 1 has parent 1; parents must be earlier nodes"),
            (new(id, "edge-a", step, n, new[] { root, 5, 5 }, new[] { -1, 0, 0 }), "Node 2 repeats token 5 among the children of node 0"),
            (new(id, "edge-a", step, n, new[] { root + 1, 5 }, new[] { -1, 0 }), "Tree root must be the last committed token"),
            (new(id, "edge-b", step, n, new[] { root, 5 }, new[] { -1, 0 }), "Edge 'edge-b' is not attached to session 'test/attacked'"),
            (new("test/someone-else", "edge-a", step, n, new[] { root, 5 }, new[] { -1, 0 }), "addressed to session 'test/someone-else'"),
            (new(id, "edge-a", step, n, new[] { root, 5 }, new[] { -1, 0, 1 }), "2 tokens but 3 parents"),
            (new(id, "edge-a", null!), "carries no tree"),
        };
        foreach (var (tree, expected) in cases)
        {
            var e = await Assert.ThrowsAnyAsync<Exception>(() => session.SubmitTreeAsync(tree));
            Assert.Contains(expected, e.Message);
            var after = await session.GetAsync();
            Assert.Equal(n, after.CommittedTokens);     // nothing committed, nothing lost
            Assert.Equal(step, after.Step);
        }

        // A session nobody started: no reply in progress.
        var idle = f.Client.GetGrain<ISessionGrain>("test/never-started");
        await idle.AttachEdgeAsync("edge-z", observer);
        var idleError = await Assert.ThrowsAnyAsync<Exception>(() => idle.SubmitTreeAsync(new("test/never-started", "edge-z", 0, 0, new[] { 1 }, new[] { -1 })));
        Assert.Contains("has no reply in progress", idleError.Message);

        // The attacked conversation then completes exactly as greedy decoding would.
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-a", new() { Budget = 8 }, capacity: 600);
        await edge.AttachAsync();
        int replyStart = turn.CommittedLength;
        await edge.RunReplyAsync();
        var committed = edge.Committed.ToArray();
        Assert.Equal(f.ReferenceGreedy(committed[..replyStart], 16), committed[replyStart..]);

        var (reply, prompt, _) = await healthy;
        Assert.Equal(f.ReferenceGreedy(prompt, 40), reply);
    }
}
