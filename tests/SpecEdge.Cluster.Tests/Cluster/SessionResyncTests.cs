using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Verification;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A verifier that disagrees with its session is rebuilt from the session's durable state, and a step that fails
/// inside a batch fails alone: no replay, no other conversation disturbed.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class SessionResyncTests(ClusterFixture f, ITestOutputHelper output)
{
    [Fact]
    public async Task ReopeningASequenceWhileItsOwnStepIsQueuedOrRunning_ReplacesIt_AndNoForwardUsesAFreedCache()
    {
        // A session whose call timed out under load re-opens its sequence while its old step is still queued or on the
        // device. The old step must fail alone (queued) or finish on the old cache (running): the cache is never freed
        // under a forward, the re-open is never refused, and neighbours in the same batches stay exact.
        var silo = (await f.Client.GetGrain<ISessionGrain>("test/reopen-anchor").GetAsync()).Silo!;
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo, 0).ToString());
        var greedy = SessionTestHelpers.Greedy(4) with { Seed = 0 };
        var prompts = Enumerable.Range(0, 4).Select(i => f.Models.Tokenizer.Encode(SessionTestHelpers.Prompts[i])).ToArray();
        var filler = Enumerable.Range(0, 450).Select(i => 10 + i % 50).ToArray();
        var fillerSnapshot = new SequenceSnapshot(filler, filler.Length, greedy, 0, true);
        int replacedWhileQueued = 0;
        for (int round = 0; round < 6; round++)
        {
            for (int i = 0; i < prompts.Length; i++) await verifier.OpenAsync($"reopen-n{i}", new SequenceSnapshot(prompts[i], prompts[i].Length, greedy, 0, true));
            var first = verifier.OpenAsync("reopen", fillerSnapshot);
            var neighbours = Enumerable.Range(0, prompts.Length).Select(i => verifier.DecodeAsync($"reopen-n{i}", 0)).ToArray();
            var second = verifier.OpenAsync("reopen", fillerSnapshot);
            // Calls from one client may arrive in either order: whichever came first is the one replaced (if it was still
            // queued). Never both, and never any other failure.
            int replaced = 0;
            foreach (var open in new[] { first, second })
            {
                try { await open; }
                catch (SessionNotLoadedException) { replaced++; }
            }
            Assert.True(replaced <= 1, "only the earlier of two opens can be replaced");
            replacedWhileQueued += replaced;
            var step = await verifier.DecodeAsync("reopen", 0);
            Assert.Equal(f.ReferenceGreedy(filler, 1), step.AcceptedTokens);
            var stepped = await Task.WhenAll(neighbours);
            for (int i = 0; i < prompts.Length; i++) Assert.Equal(f.ReferenceGreedy(prompts[i], 1), stepped[i].AcceptedTokens);
        }
        output.WriteLine($"old step replaced while queued in {replacedWhileQueued} of 6 rounds (else it was running)");
        for (int i = 0; i < prompts.Length; i++) await verifier.CloseAsync($"reopen-n{i}");
        await verifier.CloseAsync("reopen");
    }

    [Fact]
    public async Task VerifierAheadOfItsSession_IsRebuilt_AndTheEdgeReplyStaysExact()
    {
        const string id = "test/verifier-ahead";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(20));
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-ahead", new() { Budget = 8 }, capacity: 600) { StepTimeout = TimeSpan.FromSeconds(5) };
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[2]);
        var prompt = edge.Prompt;

        // The verifier commits a step the session never saw (what a failed state write leaves behind).
        var snapshot = await session.GetAsync();
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(snapshot.Silo!, 0).ToString());
        var extra = await verifier.DecodeAsync(id, snapshot.Step);
        Assert.Equal(snapshot.Step, extra.Step);

        // The edge's next tree names the session's step: the verifier must rebuild, not refuse it forever.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var stats = await edge.RunReplyAsync(cancellation: timeout.Token);
        output.WriteLine($"{stats.Steps} steps after the resync");
        Assert.Equal(f.ReferenceGreedy(prompt, 20), edge.Committed.Skip(prompt.Length).ToArray());
        var final = await SessionTestHelpers.SnapshotAfterReplyAsync(session);
        Assert.False(final.Generating);
        Assert.Equal(edge.Committed.Count, final.CommittedTokens);
    }

    [Fact]
    public async Task AStepFailingInsideTheVerifier_FailsAlone_AndNeighboursStayExact()
    {
        // A sequence whose stop rule throws inside the batch (settings no session would accept; opened on the verifier
        // directly) keeps stepping while healthy conversations decode on the same verifier.
        var neighbours = Enumerable.Range(0, 4).Select(i => f.Client.GetGrain<ISessionGrain>($"test/poison-neighbour-{i}")).ToArray();
        foreach (var s in neighbours) await s.ConfigureAsync(SessionTestHelpers.Greedy(60));
        string silo = (await neighbours[0].GetAsync()).Silo!;
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo, 0).ToString());
        var poisonSettings = new GenerationSettings { MaxNewTokens = 30, Seed = 1, StopStrings = new string[] { null! } };
        int[] poisonTokens = f.Models.Tokenizer.Encode("The history of the city");

        var replies = Task.WhenAll(neighbours.Select((s, i) => s.ChatAsync(SessionTestHelpers.Prompts[i])));
        int failures = 0;
        while (!replies.IsCompleted)
        {
            await verifier.OpenAsync("poison", new SequenceSnapshot(poisonTokens, poisonTokens.Length, poisonSettings, 0, true));
            var error = await Assert.ThrowsAnyAsync<Exception>(() => verifier.DecodeAsync("poison", 0));
            Assert.IsNotType<SessionNotLoadedException>(error);
            failures++;
        }
        await replies;
        output.WriteLine($"{failures} poisoned steps failed alongside the neighbours; batch sizes {string.Join(",", (await verifier.GetStatsAsync()).BatchSizes.TakeLast(40))}");
        Assert.True(failures > 0);
        for (int i = 0; i < neighbours.Length; i++)
        {
            var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
            var all = (await neighbours[i].AttachEdgeAsync("reader", observer)).Committed;
            await neighbours[i].DetachEdgeAsync("reader");
            var start = f.ReplyStarts(all)[0];
            Assert.Equal(f.ReferenceGreedy(all[..start], 60), all[start..]);
            Assert.Equal(all.Length, (await neighbours[i].GetAsync()).CommittedTokens);
        }
        await verifier.CloseAsync("poison");
    }
}
