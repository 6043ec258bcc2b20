using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Verification;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class EdgeAssistedDecodingTests(ClusterFixture f, ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ConcurrentEdgeClients_EachProduceTheTargetsGreedyOutput(bool proactive)
    {
        var runs = Enumerable.Range(0, 4).Select(i => SessionTestHelpers.EdgeReplyAsync(f, $"test/edge-{proactive}-{i}",
            SessionTestHelpers.Prompts[i], i % 2 == 0 ? f.PerfectDraft : f.UnrelatedDraft, proactive)).ToArray();
        var results = await Task.WhenAll(runs);
        for (int i = 0; i < results.Length; i++)
        {
            var (reply, prompt, stats) = results[i];
            Assert.Equal(f.ReferenceGreedy(prompt, 24), reply);
            output.WriteLine($"session {i}: {reply.Length} tokens in {stats.Steps} steps ({stats.TokensPerStep:F2}/step), proactive hits {stats.ProactiveHits}");
        }
        Assert.True(results[0].Stats.TokensPerStep > 2, "a perfect draft must be accepted deeply through the cluster");
    }

    [Fact]
    public async Task DirectCallTransport_GivesTheSameOutputAsTheChannel()
    {
        var viaChannel = await SessionTestHelpers.EdgeReplyAsync(f, "test/transport-channel", SessionTestHelpers.Prompts[5], f.PerfectDraft, proactive: true);
        var viaCall = await SessionTestHelpers.EdgeReplyAsync(f, "test/transport-call", SessionTestHelpers.Prompts[5], f.PerfectDraft, proactive: true, TreeTransport.DirectCall);
        Assert.Equal(viaChannel.Reply, viaCall.Reply);
        Assert.Equal(f.ReferenceGreedy(viaCall.Prompt, 24), viaCall.Reply);
    }

    [Fact]
    public async Task Backend_WithoutEdge_GetsTheTargetsGreedyOutput()
    {
        var session = f.Client.GetGrain<ISessionGrain>("test/backend-1");
        await session.ConfigureAsync(SessionTestHelpers.Greedy());
        string reply = await session.ChatAsync(SessionTestHelpers.Prompts[2]);
        var snapshot = await session.GetAsync();
        Assert.False(snapshot.Generating);
        Assert.Equal(new[] { "user", "assistant" }, snapshot.Messages.Select(m => m.Role));
        Assert.Equal(reply, snapshot.Messages[1].Content);

        // The committed tokens of the reply must be the target's greedy continuation of the prompt tokens.
        var tokens = await StreamTokensAsync(session);
        int promptLength = snapshot.CommittedTokens - tokens.Length;
        var all = await CommittedTokensAsync("test/backend-1");
        Assert.Equal(f.ReferenceGreedy(all[..promptLength], 24), all[promptLength..]);
        Assert.Equal(f.Models.Tokenizer.Decode(all[promptLength..], skipSpecialTokens: true), reply);
    }

    [Fact]
    public async Task StopString_EndsTheReply_AndIsNotShown()
    {
        // Learn the unconstrained greedy reply, then stop on a piece from its middle (it may span two steps' chunks:
        // no part of it may reach the reader).
        var free = f.Client.GetGrain<ISessionGrain>("test/stop-free");
        await free.ConfigureAsync(SessionTestHelpers.Greedy(30));
        string full = await free.ChatAsync(SessionTestHelpers.Prompts[7]);
        Assert.True(full.Length > 12, $"reply too short to pick a stop string: '{full}'");
        string stop = full.Substring(full.Length / 2, 3);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var stopped = f.Client.GetGrain<ISessionGrain>("test/stop-cut");
        await stopped.ConfigureAsync(SessionTestHelpers.Greedy(30) with { StopStrings = new[] { stop } });
        string reply = await stopped.ChatAsync(SessionTestHelpers.Prompts[7]);
        var snapshot = await stopped.GetAsync();
        output.WriteLine($"full: [{full}]\nstop: [{stop}]\nreply: [{reply}]");
        Assert.Equal(expected, reply);
        Assert.Equal(expected, snapshot.Messages[^1].Content);
        var chunks = new List<ReplyChunk>();
        await foreach (var chunk in stopped.StreamReplyAsync()) chunks.Add(chunk);
        Assert.Equal(ReplyFinish.StopString, chunks[^1].FinishReason);
    }

    [Fact]
    public async Task Backend_StreamsTheReplyAsItIsGenerated()
    {
        var session = f.Client.GetGrain<ISessionGrain>("test/backend-stream");
        await session.ConfigureAsync(SessionTestHelpers.Greedy(30));
        await session.SendUserMessageAsync(SessionTestHelpers.Prompts[3]);
        var chunks = new List<ReplyChunk>();
        await foreach (var chunk in session.StreamReplyAsync()) chunks.Add(chunk);
        Assert.True(chunks.Count > 1, "a reply must arrive in several chunks");
        Assert.True(chunks[^1].Final);
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index));
        var snapshot = await session.GetAsync();
        Assert.Equal(snapshot.Messages[^1].Content, string.Concat(chunks.Select(c => c.Text)));
    }

    [Fact]
    public async Task Verifier_BatchesConcurrentSessions_AndEveryOutputStaysExact()
    {
        var sessions = Enumerable.Range(0, 8).Select(i => f.Client.GetGrain<ISessionGrain>($"test/batch-{i}")).ToArray();
        foreach (var s in sessions) await s.ConfigureAsync(SessionTestHelpers.Greedy(20));
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>((await sessions[0].GetAsync()).Silo + "|0");
        var replies = await Task.WhenAll(sessions.Select((s, i) => s.ChatAsync(SessionTestHelpers.Prompts[i])));

        // The test model's forward is so short that steps overlap only by chance on a busy 2-core machine (messages
        // may arrive further apart than a forward takes). So batching is shown with bursts: while a long prefill
        // occupies the device, eight decode steps sent at once queue up behind it and run together; each must equal
        // the step decoded alone. A burst whose messages straggle is retried a few times.
        var greedy = SessionTestHelpers.Greedy(4) with { Seed = 0 };
        var prompts = Enumerable.Range(0, 8).Select(i => f.Models.Tokenizer.Encode(SessionTestHelpers.Prompts[i])).ToArray();
        var filler = Enumerable.Range(0, 450).Select(i => 10 + i % 50).ToArray();
        int largest = 0;
        for (int burst = 0; burst < 10 && largest < 2; burst++)
        {
            for (int i = 0; i < 8; i++) await verifier.OpenAsync($"direct-{i}", new SequenceSnapshot(prompts[i], prompts[i].Length, greedy, 0, true));
            long before = (await verifier.GetStatsAsync()).Forwards;
            var fill = verifier.OpenAsync("batch-filler", new SequenceSnapshot(filler, filler.Length, greedy, 0, false));
            var steps = Enumerable.Range(0, 8).Select(i => verifier.DecodeAsync($"direct-{i}", 0)).ToArray();
            await fill;
            var batched = await Task.WhenAll(steps);
            var sizes = (await verifier.GetStatsAsync()).BatchesSince(before);
            output.WriteLine($"burst {burst}: batch sizes {string.Join(",", sizes)}");
            largest = sizes.Max();
            for (int i = 0; i < 8; i++) Assert.Equal(f.ReferenceGreedy(prompts[i], 1), batched[i].AcceptedTokens);
        }
        Assert.True(largest > 1, "steps queued behind a busy device must run as one batch");
        for (int i = 0; i < 8; i++) await verifier.CloseAsync($"direct-{i}");
        await verifier.CloseAsync("batch-filler");
        for (int i = 0; i < sessions.Length; i++)
        {
            var all = await CommittedTokensAsync($"test/batch-{i}");
            var snapshot = await sessions[i].GetAsync();
            Assert.Equal(replies[i], snapshot.Messages[^1].Content);
            var prompt = all[..f.ReplyStarts(all)[0]];
            Assert.Equal(f.ReferenceGreedy(prompt, 20), all[prompt.Length..]);
        }
    }

    private async Task<int[]> CommittedTokensAsync(string sessionId)
    {
        // An edge attachment is the public way to read all committed tokens.
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        var attachment = await f.Client.GetGrain<ISessionGrain>(sessionId).AttachEdgeAsync("reader", observer);
        await f.Client.GetGrain<ISessionGrain>(sessionId).DetachEdgeAsync("reader");
        return attachment.Committed;
    }

    private static async Task<int[]> StreamTokensAsync(ISessionGrain session)
    {
        var tokens = new List<int>();
        await foreach (var chunk in session.StreamReplyAsync()) tokens.AddRange(chunk.Tokens);
        return tokens.ToArray();
    }

}
