using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The durability rule: a step's verdict reaches the edge before its state write completes, but no reader (snapshot,
/// reply stream, chat) sees a step before it is durable; a failed write rolls the step back, the edge resynchronises,
/// and the reply still equals the target's own greedy decoding, with nothing lost or repeated on the stream.
/// </summary>
[Collection(StorageFaultCollection.Name)]
[Trait("Kind", "cluster")]
public class DurabilityTests(StorageFaultClusterFixture f, ITestOutputHelper output)
{
    /// <summary>
    /// A greedy turn whose steps the test submits by hand, as the edge <paramref name="edgeId"/> (attached with an observer
    /// that ignores verdicts), with the session's state writes under the test's control.
    /// </summary>
    private async Task<(ISessionGrain Session, ControlledGrainStorage.Control Control, TurnStarted Turn)> HandDrivenTurnAsync(string id, string edgeId, string prompt, int maxNewTokens)
    {
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(maxNewTokens));
        await session.AttachEdgeAsync(edgeId, f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver()));
        return (session, control, await session.SendUserMessageAsync(prompt));
    }

    [Fact]
    public async Task AVerdictReachesTheEdgeBeforeItsWrite_ButReadersSeeTheStepOnlyOnceDurable()
    {
        const string id = "test/durability-held";
        var (session, control, turn) = await HandDrivenTurnAsync(id, "edge-held", SessionTestHelpers.Prompts[0], 8);

        control.Hold();
        int attempts = control.Attempts;
        var tree = new TreeSubmission(id, "edge-held", turn.Step, turn.CommittedLength, new[] { turn.AppendedTokens[^1], 5 }, new[] { -1, 0 });
        var verdict = await session.SubmitTreeAsync(tree).WaitAsync(TimeSpan.FromSeconds(30));
        // Its write reaches the storage (and is held there) just after the verdict went out.
        for (int wait = 0; control.Attempts == attempts && wait < 200; wait++) await Task.Delay(25);
        Assert.Equal(attempts + 1, control.Attempts);

        // A snapshot answers at once, with what is durable: not the step whose write is held.
        var during = await session.GetAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(turn.CommittedLength, during.CommittedTokens);
        Assert.Equal(turn.Step, during.Step);
        var firstChunk = FirstChunkAsync(session);
        await Task.Delay(500);
        Assert.False(firstChunk.IsCompleted, "a reply stream must not show a step whose write is in flight");

        control.Release();
        var chunk = await firstChunk.WaitAsync(TimeSpan.FromSeconds(30));
        var snapshot = await session.GetAsync();
        Assert.Equal(turn.CommittedLength + verdict.AcceptedTokens.Length, snapshot.CommittedTokens);
        Assert.Equal(verdict.AcceptedTokens, chunk.Tokens);
        await session.DetachEdgeAsync("edge-held");
    }

    [Fact]
    public async Task AReaderNeverSeesAStepThatWasRolledBack_EvenWhenItsRedoIsCutDifferently()
    {
        const string id = "test/durability-rollback-reader";
        var (session, control, turn) = await HandDrivenTurnAsync(id, "edge-rb", SessionTestHelpers.Prompts[5], 12);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 12);
        var streamed = SessionTestHelpers.StreamedReplyAsync(session);

        // A perfect four-node chain: five tokens in one step, whose write is held and then fails.
        control.Hold();
        control.FailNext(1);
        var chain = new[] { turn.AppendedTokens[^1] }.Concat(expected.Take(4)).ToArray();
        var first = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-rb", turn.Step, turn.CommittedLength, chain, new[] { -1, 0, 1, 2, 3 }))
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(expected.Take(5), first.AcceptedTokens);
        control.Release();
        while (control.Failed == 0) await Task.Delay(20);

        // The same step again, cut differently: a wrong one-node guess gives one token. A reader that had seen the
        // rolled-back five-token chunk would now see tokens twice.
        int wrong = (expected[0] + 1) % f.Models.VocabSize;
        var redo = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-rb", turn.Step, turn.CommittedLength, new[] { turn.AppendedTokens[^1], wrong }, new[] { -1, 0 }))
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(expected.Take(1), redo.AcceptedTokens);
        await session.DetachEdgeAsync("edge-rb");   // the server finishes the reply

        var (tokens, _) = await streamed.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(expected, tokens);
    }

    [Theory]
    [InlineData(TreeTransport.Channel)]
    [InlineData(TreeTransport.DirectCall)]
    public async Task AFailedStepWrite_RollsBack_TheEdgeResynchronises_AndReplyAndStreamEqualGreedy(TreeTransport transport)
    {
        string id = $"test/durability-edge-{transport}";
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(24));
        using var edge = new EdgeSession(f.Client, f.UnrelatedDraft, id, "edge-" + id, new() { Budget = 8 }, capacity: 600, transport) { StepTimeout = TimeSpan.FromSeconds(5) };
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[3]);
        var prompt = edge.Prompt;
        var streamed = SessionTestHelpers.StreamedReplyAsync(session);

        control.FailNext(1, after: 2);   // the third step's write fails
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var stats = await edge.RunReplyAsync(cancellation: timeout.Token);
        output.WriteLine($"{transport}: {stats.Steps} steps, {control.Failed} failed write(s)");

        Assert.Equal(1, control.Failed);
        var expected = f.ReferenceGreedy(prompt, 24);
        Assert.Equal(expected, edge.Committed.Skip(prompt.Length).ToArray());
        var (tokens, _) = await streamed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(expected, tokens);
        var final = await session.GetAsync();
        Assert.False(final.Generating);
        Assert.Equal(prompt.Length + expected.Length, final.CommittedTokens);
        await edge.DetachAsync();
    }

    [Fact]
    public async Task AFailedStepWrite_OnTheServerPath_IsRedone_AndTheStreamEqualsGreedy()
    {
        const string id = "test/durability-server";
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(20));
        control.FailNext(2, after: 4);   // the turn's write, three steps, then two failures in a row
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[1]);
        var (tokens, reason) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(2, control.Failed);
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 20), tokens);
        Assert.NotEqual(ReplyFinish.Error, reason);
        var final = await session.GetAsync();
        Assert.Equal(turn.CommittedLength + tokens.Length, final.CommittedTokens);
    }

    [Fact]
    public async Task StorageThatKeepsFailing_EndsTheReplyWithAnErrorEveryReaderSees_AndTheSessionTakesANewTurn()
    {
        const string id = "test/durability-outage";
        var control = ControlledGrainStorage.For(id);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(20));
        control.FailNext(3, after: 2);   // the turn's write and one step succeed, then three step writes fail
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[4]);
        var (tokens, reason) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(ReplyFinish.Error, reason);
        // What readers saw is exactly the durable part, a prefix of the target's own reply.
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 20);
        Assert.Equal(expected.Take(tokens.Length), tokens);
        Assert.True(tokens.Length < expected.Length);
        var ended = await session.GetAsync();
        Assert.False(ended.Generating);
        Assert.Equal(turn.CommittedLength + tokens.Length, ended.CommittedTokens);

        // The storage is back: the conversation goes on.
        string reply = await session.ChatAsync("and then?").WaitAsync(TimeSpan.FromSeconds(60));
        Assert.False((await session.GetAsync()).Generating);
        Assert.NotNull(reply);
    }

    [Fact]
    public async Task StepsCommittedWhileAWriteIsHeld_DoNotWaitForIt_AndGoOutTogetherInTheNextWrite()
    {
        const string id = "test/durability-group-commit";
        var (session, control, turn) = await HandDrivenTurnAsync(id, "edge-gc", SessionTestHelpers.Prompts[2], 12);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 12);
        var streamed = SessionTestHelpers.StreamedReplyAsync(session);

        control.Hold();
        int attempts = control.Attempts;
        // Three steps of one token each (a wrong one-node guess yields the target's own token): each verdict comes back
        // while the first step's write is held. A step that waited for the previous step's write would time out here.
        var committed = turn.AppendedTokens.ToList();
        for (int k = 0; k < 3; k++)
        {
            int wrong = (expected[k] + 1) % f.Models.VocabSize;
            var verdict = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-gc", turn.Step + k, turn.CommittedLength + k, new[] { committed[^1], wrong }, new[] { -1, 0 }))
                .WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(new[] { expected[k] }, verdict.AcceptedTokens);
            committed.AddRange(verdict.AcceptedTokens);
        }
        for (int wait = 0; control.Attempts == attempts && wait < 200; wait++) await Task.Delay(25);
        Assert.Equal(attempts + 1, control.Attempts);   // one write in flight; the other two steps wait in memory
        Assert.Equal(turn.CommittedLength, (await session.GetAsync()).CommittedTokens);

        control.Release();
        SessionSnapshot snapshot;
        int polls = 0;
        do { await Task.Delay(25); snapshot = await session.GetAsync(); } while (snapshot.CommittedTokens < turn.CommittedLength + 3 && ++polls < 400);
        Assert.Equal(turn.CommittedLength + 3, snapshot.CommittedTokens);
        Assert.Equal(turn.Step + 3, snapshot.Step);
        Assert.Equal(attempts + 2, control.Attempts);   // the held write, then one write for the two steps behind it

        await session.DetachEdgeAsync("edge-gc");   // the server finishes the reply
        var (tokens, _) = await streamed.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(expected, tokens);
    }

    [Fact]
    public async Task AFailedWrite_RollsBackEveryStepCommittedOnTopOfIt_AndNoReaderSeesAnyOfThem()
    {
        const string id = "test/durability-group-rollback";
        var (session, control, turn) = await HandDrivenTurnAsync(id, "edge-gr", SessionTestHelpers.Prompts[6], 12);
        var expected = f.ReferenceGreedy(turn.AppendedTokens, 12);
        var streamed = SessionTestHelpers.StreamedReplyAsync(session);

        control.Hold();
        control.FailNext(1);
        var committed = turn.AppendedTokens.ToList();
        for (int k = 0; k < 2; k++)
        {
            // Two-token steps (a perfect one-node chain): a redo cut into one-token steps must not show them twice.
            var verdict = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-gr", turn.Step + k, turn.CommittedLength + 2 * k, new[] { committed[^1], expected[2 * k] }, new[] { -1, 0 }))
                .WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(expected.Skip(2 * k).Take(2), verdict.AcceptedTokens);
            committed.AddRange(verdict.AcceptedTokens);
        }
        control.Release();
        while (control.Failed == 0) await Task.Delay(20);

        // Both steps are gone: the session is back at the turn, and a tree for the step after them is refused.
        SessionSnapshot back;
        int polls = 0;
        do { await Task.Delay(25); back = await session.GetAsync(); } while (back.Step != turn.Step && ++polls < 200);
        Assert.Equal(turn.Step, back.Step);
        Assert.Equal(turn.CommittedLength, back.CommittedTokens);
        await Assert.ThrowsAnyAsync<Exception>(() => session.SubmitTreeAsync(new TreeSubmission(id, "edge-gr", turn.Step + 2, turn.CommittedLength + 4, new[] { committed[^1], expected[4] }, new[] { -1, 0 })));

        int wrong = (expected[0] + 1) % f.Models.VocabSize;
        var redo = await session.SubmitTreeAsync(new TreeSubmission(id, "edge-gr", turn.Step, turn.CommittedLength, new[] { turn.AppendedTokens[^1], wrong }, new[] { -1, 0 }))
            .WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(expected.Take(1), redo.AcceptedTokens);
        await session.DetachEdgeAsync("edge-gr");
        var (tokens, _) = await streamed.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(expected, tokens);
    }

    private static async Task<ReplyChunk> FirstChunkAsync(ISessionGrain session)
    {
        await foreach (var chunk in session.StreamReplyAsync()) return chunk;
        throw new InvalidOperationException("the reply ended without a chunk");
    }
}
