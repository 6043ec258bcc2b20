using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Temperature &gt; 0 through the cluster: the seed alone decides the reply. The server alone, edges with different
/// drafts, trees, proactive settings and transports, and a handoff between edges mid-reply all commit exactly the
/// tokens of target-only sampling with the session's seed.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class SeededSamplingClusterTests(ClusterFixture f, ITestOutputHelper output)
{
    private const int NewTokens = 24;

    [Fact]
    public async Task EveryPath_CommitsTheTargetsOwnSample_ForTheSeed()
    {
        var settings = SessionTestHelpers.Sampled(seed: 7, NewTokens);
        string text = SessionTestHelpers.Prompts[1];

        var backend = f.Client.GetGrain<ISessionGrain>("test/seeded-backend");
        await backend.ConfigureAsync(settings);
        await backend.ChatAsync(text);
        var all = await CommittedTokensAsync("test/seeded-backend");
        int start = f.ReplyStarts(all)[0];
        var expected = f.ReferenceReply(all[..start], settings);
        Assert.Equal(expected, all[start..]);
        Assert.NotEqual(f.ReferenceGreedy(all[..start], NewTokens), expected);   // it really sampled

        var edges = new (string Name, Inference.Model.CausalLm Draft, bool Proactive, TreeTransport Transport, DraftTreeOptions Tree)[]
        {
            ("perfect-b12-proactive", f.PerfectDraft, true, TreeTransport.Channel, new() { Budget = 12, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4 }),
            ("perfect-b32", f.PerfectDraft, false, TreeTransport.Channel, new() { Budget = 32, MaxDepth = 5, MaxBeams = 16, BranchWidth = 8 }),
            ("unrelated-chain-call", f.UnrelatedDraft, false, TreeTransport.DirectCall, new() { Budget = 3, MaxDepth = 3, MaxBeams = 1, BranchWidth = 1 }),
            ("unrelated-b8-proactive", f.UnrelatedDraft, true, TreeTransport.Channel, new() { Budget = 8, MaxDepth = 4, MaxBeams = 4, BranchWidth = 3, ProactiveDepth = 2 }),
        };
        foreach (var e in edges)
        {
            var (reply, prompt, stats) = await SessionTestHelpers.EdgeReplyAsync(f, "test/seeded-" + e.Name, text, e.Draft, e.Proactive, e.Transport,
                settings: settings, tree: e.Tree);
            output.WriteLine($"{e.Name}: {stats.TokensPerStep:F2} tokens/step, proactive hits {stats.ProactiveHits}");
            Assert.Equal(all[..start], prompt);
            Assert.Equal(expected, reply);
        }
    }

    [Fact]
    public async Task HandoffToAnotherEdgeMidReply_ThenTheServer_ContinuesTheSameSample()
    {
        const string id = "test/seeded-handoff";
        var settings = SessionTestHelpers.Sampled(seed: 31, NewTokens);
        var tree = new DraftTreeOptions { Budget = 10, MaxDepth = 4, MaxBeams = 5, BranchWidth = 4 };
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);

        using (var first = new EdgeSession(f.Client, f.PerfectDraft, id, "first-edge", tree, capacity: 600))
        {
            await first.AttachAsync();
            await first.SendAsync(SessionTestHelpers.Prompts[3]);
            using var stop = new CancellationTokenSource();
            int steps = 0;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.RunReplyAsync(_ => { if (++steps == 2) stop.Cancel(); }, stop.Token));
        }
        Assert.True((await session.GetAsync()).Generating, "the first edge must leave mid-reply");

        // Another edge, with another draft, takes the reply over at once.
        using (var second = new EdgeSession(f.Client, f.UnrelatedDraft, id, "second-edge", tree with { Proactive = true }, capacity: 600))
        {
            var attachment = await second.AttachAsync();
            Assert.True(attachment.Generating);
            await second.RunReplyAsync();
            await second.DetachAsync();
        }
        int afterFirst = (await session.GetAsync()).CommittedTokens;
        // The next turn has no edge: the server samples it.
        await session.ChatAsync("And then what happened");

        var all = await CommittedTokensAsync(id);
        var starts = f.ReplyStarts(all);
        Assert.Equal(2, starts.Length);
        Assert.Equal(f.ReferenceReply(all[..starts[0]], settings), all[starts[0]..afterFirst]);
        Assert.Equal(f.ReferenceReply(all[..starts[1]], settings), all[starts[1]..]);
    }

    [Fact]
    public async Task WithoutACallerSeed_EachConversationGetsARandomOne_ThatReproducesItsReply()
    {
        var unseeded = SessionTestHelpers.Sampled(seed: 0, NewTokens) with { Seed = null };
        var a = f.Client.GetGrain<ISessionGrain>("test/unseeded-a");
        var b = f.Client.GetGrain<ISessionGrain>("test/unseeded-b");
        await a.ConfigureAsync(unseeded);
        await b.ConfigureAsync(unseeded);
        string replyA = await a.ChatAsync(SessionTestHelpers.Prompts[6]);
        await b.ChatAsync(SessionTestHelpers.Prompts[6]);
        ulong? seedA = (await a.GetAsync()).Seed, seedB = (await b.GetAsync()).Seed;
        Assert.NotNull(seedA);
        Assert.NotNull(seedB);
        Assert.NotEqual(seedA, seedB);

        // The seed a conversation reports reproduces its reply in a new conversation.
        var again = f.Client.GetGrain<ISessionGrain>("test/unseeded-a-again");
        await again.ConfigureAsync(unseeded with { Seed = seedA });
        Assert.Equal(replyA, await again.ChatAsync(SessionTestHelpers.Prompts[6]));
        var tokensA = await CommittedTokensAsync("test/unseeded-a");
        int start = f.ReplyStarts(tokensA)[0];
        Assert.Equal(f.ReferenceReply(tokensA[..start], unseeded with { Seed = seedA }), tokensA[start..]);
    }

    private Task<int[]> CommittedTokensAsync(string sessionId) => SessionTestHelpers.CommittedTokensAsync(f.Client, sessionId);
}
