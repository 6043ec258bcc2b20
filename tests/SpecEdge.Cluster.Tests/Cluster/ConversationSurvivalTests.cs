using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>Edge handoff and edge crash: the conversation goes on and stays exactly the target's greedy text.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class ConversationSurvivalTests(ClusterFixture f)
{
    private static readonly DraftTreeOptions Tree = new() { Budget = 10, MaxDepth = 4, MaxBeams = 5, BranchWidth = 4 };

    [Fact]
    public async Task Conversation_ContinuesOnAnotherEdgeWithAnotherDraft_AndEqualsGreedy()
    {
        const string id = "test/handoff";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(20));

        using (var first = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-one", Tree, capacity: 600))
        {
            await first.AttachAsync();
            await first.SendAsync(SessionTestHelpers.Prompts[0]);
            await first.RunReplyAsync();
            await first.DetachAsync();
        }
        int afterFirstTurn = (await session.GetAsync()).CommittedTokens;

        // Another edge host, with a different draft model of the same tokenizer, continues the conversation.
        using var second = new EdgeSession(f.Client, f.UnrelatedDraft, id, "edge-two", Tree, capacity: 600);
        var attachment = await second.AttachAsync();
        Assert.Equal(afterFirstTurn, attachment.Committed.Length);
        await second.SendAsync("And then what happened");
        await second.RunReplyAsync();

        // The whole conversation must equal greedy decoding turn by turn.
        var all = second.Committed.ToArray();
        var snapshot = await SessionTestHelpers.SnapshotAfterReplyAsync(session);
        Assert.Equal(4, snapshot.Messages.Length);
        var starts = f.ReplyStarts(all);
        Assert.Equal(2, starts.Length);
        int secondPromptEnd = starts[1];
        var firstPrompt = all[..starts[0]];
        Assert.Equal(f.ReferenceGreedy(firstPrompt, 20), all[firstPrompt.Length..afterFirstTurn]);
        Assert.Equal(f.ReferenceGreedy(all[..secondPromptEnd], 20), all[secondPromptEnd..]);
    }

    [Fact]
    public async Task EdgeCrashMidReply_ServerFinishesTheReply_NoTokenLostOrDuplicated()
    {
        const string id = "test/crash";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(30));
        using var edge = new EdgeSession(f.Client, f.UnrelatedDraft, id, "doomed-edge", Tree, capacity: 600);
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[4]);
        var prompt = edge.Prompt;

        // The edge drafts a few steps, then vanishes without detaching.
        using var crash = new CancellationTokenSource();
        int steps = 0;
        var running = edge.RunReplyAsync(_ => { if (++steps == 3) crash.Cancel(); }, crash.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => running);

        // The caller's stream completes once the lease (3 s) runs out and the server takes over.
        var tokens = new List<int>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await foreach (var chunk in session.StreamReplyAsync()) tokens.AddRange(chunk.Tokens);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30));
        var snapshot = await session.GetAsync();
        Assert.False(snapshot.Generating);
        Assert.Null(snapshot.AttachedEdge);
        Assert.Equal(f.ReferenceGreedy(prompt, 30), tokens.ToArray());
        Assert.Equal(prompt.Length + tokens.Count, snapshot.CommittedTokens);
    }
}
