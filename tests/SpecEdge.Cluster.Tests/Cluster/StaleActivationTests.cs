using SpecEdge.Contracts;
using SpecEdge.Grains.Sessions;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A session whose write fails keeps nothing of that change in memory, and one that lost a storage race (ETag conflict:
/// another activation wrote first) deactivates, so the next call reads what storage holds. Both used to leave the
/// conversation stuck: a turn marked generating that was never stored refused every later message, and a stale
/// activation kept answering from what it alone believed.
/// </summary>
[Collection(StorageFaultCollection.Name)]
[Trait("Kind", "cluster")]
public class StaleActivationTests(StorageFaultClusterFixture f)
{
    [Fact]
    public async Task AnETagConflict_DeactivatesTheStaleActivation_SoTheNextCallSeesWhatStorageHolds()
    {
        const string id = "test/stale-etag";
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(8));
        control.ConflictNext(stored => ((SessionState)stored).Messages.Add(new ChatTurn("system", "written by the other activation")));

        var refused = await Assert.ThrowsAnyAsync<Exception>(() => session.SendUserMessageAsync(SessionTestHelpers.Prompts[1]));
        Assert.Contains("InconsistentState", refused.Message);

        // A fresh activation reads the other writer's state; the stale one would keep showing an empty conversation.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        SessionSnapshot snapshot;
        while (!(snapshot = await session.GetAsync()).Messages.Any(m => m.Content == "written by the other activation"))
        {
            Assert.True(DateTime.UtcNow < deadline, "the stale activation still answers from its own memory");
            await Task.Delay(100);
        }
        Assert.False(snapshot.Generating);

        // And the conversation goes on from there, with the target's own greedy reply.
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[1]);
        var (reply, finish) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.NotEqual(ReplyFinish.Error, finish);
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 8), reply);
    }

    [Fact]
    public async Task ATurnWhoseWriteFailed_IsNotLeftGenerating_AndTheNextMessageIsTaken()
    {
        const string id = "test/rollback-turn";
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(8));
        control.FailNext(1);

        await Assert.ThrowsAnyAsync<Exception>(() => session.SendUserMessageAsync(SessionTestHelpers.Prompts[2]));
        var after = await session.GetAsync();
        Assert.False(after.Generating);
        Assert.Empty(after.Messages);
        Assert.Equal(0, after.CommittedTokens);

        // The failed turn left nothing behind: the same message is accepted and answered greedily.
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[2]);
        Assert.Equal(turn.CommittedLength, turn.AppendedTokens.Length);
        var (reply, _) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 8), reply);
    }

    [Fact]
    public async Task AnAttachWhoseWriteFailed_LeavesNoEdgeAttached()
    {
        const string id = "test/rollback-attach";
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(8));
        control.FailNext(1);
        await Assert.ThrowsAnyAsync<Exception>(() => session.AttachEdgeAsync("edge-x", f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver())));

        // Not attached: the server decodes the next turn by itself, to the greedy reply.
        Assert.Null((await session.GetAsync()).AttachedEdge);
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[3]);
        Assert.Null((await session.GetAsync()).AttachedEdge);   // the turn's own write did not store the refused attach
        var (reply, _) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 8), reply);
    }
}
