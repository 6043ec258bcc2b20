using System.Diagnostics;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Persistence;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>Two silos with session state in Azure Blob storage (Azurite, started by the test).</summary>
public sealed class DurableTwoSiloFixture : ClusterFixture
{
    private AzuriteFixture? _azurite;
    protected override short Silos => 2;
    public const string Container = "sessions-under-test";
    public string StorageConnectionString => _azurite!.ConnectionString;

    // Server-side speculative decoding (the silo drafts for itself when no edge is attached), and a KV budget of 1 MB:
    // about 7 of the test model's 512-token caches per verifier, so busy sessions get evicted and rebuilt.
    protected override void ConfigureModels(SpecEdgeSiloOptions options)
    {
        options.ServerDraftModel = UnrelatedDraftDir;
        options.KvMemoryMb = 1;
    }

    protected override void ConfigureStorage(ISiloBuilder silo)
    {
        string connection = _azurite!.ConnectionString;
        silo.AddSpecEdgeBlobStorage("sessions", connection, Container);
    }

    public override async Task InitializeAsync()
    {
        _azurite = new AzuriteFixture();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _azurite?.Dispose();
    }
}

[Trait("Kind", "cluster")]
public class SiloFailureTests(DurableTwoSiloFixture f, ITestOutputHelper output) : IClassFixture<DurableTwoSiloFixture>
{
    [Fact]
    public async Task KillingTheSiloOfBusySessions_ResumesTheirRepliesOnTheSurvivor_GreedyAndSampledAlike()
    {
        // Two busy sessions on one silo: one greedy, one sampling at temperature 0.9 with a seed.
        var settings = new[] { SessionTestHelpers.Greedy(120), SessionTestHelpers.Sampled(seed: 99, 120) };
        var ids = new string?[2];
        string? home = null;
        for (int k = 0; ids[1] is null; k++)
        {
            string candidate = $"test/survivor-{k}";
            string silo = (await f.Client.GetGrain<ISessionGrain>(candidate).GetAsync()).Silo!;
            if (ids[0] is null) (ids[0], home) = (candidate, silo);
            else if (silo == home) ids[1] = candidate;
        }
        var sessions = ids.Select(id => f.Client.GetGrain<ISessionGrain>(id)).ToArray();
        var turns = new TurnStarted[2];
        for (int i = 0; i < 2; i++)
        {
            await sessions[i].ConfigureAsync(settings[i]);
            turns[i] = await sessions[i].SendUserMessageAsync(SessionTestHelpers.Prompts[i]);
        }

        // Let a few steps commit, then kill the silo that hosts both (and its verifier, and its KV caches).
        // A reader of the first session takes 5 chunks now and resumes at chunk 5 after the failover: chunk numbers
        // survive it, so it must miss and repeat nothing.
        int seen = 0;
        var readBefore = new List<int>();
        await foreach (var chunk in sessions[0].StreamReplyAsync())
        {
            readBefore.AddRange(chunk.Tokens);
            if (++seen == 5) break;
        }
        var beforeKill = await Task.WhenAll(sessions.Select(s => s.GetAsync()));
        Assert.All(beforeKill, b => Assert.True(b.Generating, $"the reply of {b.SessionId} must still be in progress when its silo dies"));
        var handle = (InProcessSiloHandle)f.Cluster.Silos.Single(s => s.Name == home);
        var clock = Stopwatch.StartNew();
        await f.Cluster.KillSiloAsync(handle);

        for (int i = 0; i < 2; i++)
        {
            // The next call reactivates the session on the surviving silo from blob storage; it rebuilds its KV cache by prefill.
            SessionSnapshot snapshot = null!;
            for (int attempt = 0; ; attempt++)
            {
                try { snapshot = await sessions[i].GetAsync(); break; }
                catch (Exception e) when (attempt < 60) { output.WriteLine($"waiting: {e.GetType().Name}"); await Task.Delay(500); }
            }
            var comeback = clock.Elapsed;
            Assert.NotEqual(home, snapshot.Silo);

            var reply = new List<int>(i == 0 ? readBefore : new List<int>());
            int resumeAt = i == 0 ? seen : 0;
            ReplyFinish? finish = null;
            await foreach (var chunk in sessions[i].StreamReplyAsync(resumeAt))
            {
                Assert.Equal(resumeAt++, chunk.Index);
                reply.AddRange(chunk.Tokens);
                finish = chunk.FinishReason;
            }
            output.WriteLine($"{ids[i]} (temperature {settings[i].Temperature}): killed {home} with {beforeKill[i].CommittedTokens - turns[i].CommittedLength} reply tokens committed; back on {snapshot.Silo} {comeback.TotalSeconds:F2}s after the kill; reply {reply.Count} tokens, finished: {finish}");
            var final = await sessions[i].GetAsync();
            Assert.False(final.Generating);
            Assert.Equal(turns[i].CommittedLength + reply.Count, final.CommittedTokens);

            // The reply (before and after the failure) equals target-only decoding of the prompt with the session's seed.
            var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
            var all = (await sessions[i].AttachEdgeAsync("reader", observer)).Committed;
            Assert.Equal(f.ReferenceReply(all[..turns[i].CommittedLength], settings[i] with { Seed = final.Seed }), all[turns[i].CommittedLength..]);
            Assert.Equal(all[turns[i].CommittedLength..], reply.ToArray());
        }
    }

    [Fact]
    public async Task TwoActivationsOfOneSession_RacingOnStorage_NeverBothCommit()
    {
        // A second, separate cluster on the same storage container: the same session id is active in both at once,
        // which is exactly the split-brain a failover can produce.
        const string id = "test/raced";
        var first = f.Client.GetGrain<ISessionGrain>(id);
        await first.ConfigureAsync(SessionTestHelpers.Greedy(4));
        await first.ChatAsync("first turn");

        var builder = new InProcessTestClusterBuilder(1);
        string connection = f.StorageConnectionString, target = f.TargetDir;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddSpecEdgeBlobStorage("sessions", connection, DurableTwoSiloFixture.Container);
            silo.AddSpecEdge(o => { o.TargetModel = target; o.MaxContextTokens = 512; }, inMemorySessions: false);
        });
        builder.ConfigureClient(c => c.AddBroadcastChannel(ChannelNames.Provider));
        var other = builder.Build();
        await other.DeployAsync();
        try
        {
            var second = other.Client.GetGrain<ISessionGrain>(id);
            Assert.Equal(2, (await second.GetAsync()).Messages.Length);   // both activations loaded the same stored state

            var results = await Task.WhenAll(
                Outcome(() => first.ChatAsync("from activation one")),
                Outcome(() => second.ChatAsync("from activation two")));
            output.WriteLine(string.Join(" | ", results));
            Assert.Equal(1, results.Count(r => r == "ok"));
            Assert.Contains(results, r => r.Contains("InconsistentState") || r.Contains("ETag") || r.Contains("etag"));

            // What is stored holds exactly one of the two turns.
            var fresh = f.Client.GetGrain<ISessionGrain>(id);
            await f.Cluster.DeactivateAsync(fresh);
            var stored = await fresh.GetAsync();
            Assert.Equal(1, stored.Messages.Count(m => m.Content.StartsWith("from activation")));
        }
        finally
        {
            await other.StopAllSilosAsync();
            await other.DisposeAsync();
        }
    }

    [Fact]
    public async Task EvictedKvCaches_AreRebuiltTransparently_AndServerSideDraftingStaysExact()
    {
        var sessions = Enumerable.Range(0, 20).Select(i => f.Client.GetGrain<ISessionGrain>($"test/evict-{i}")).ToArray();
        // Every other session samples with a seed: a rebuilt cache must not change which sample it commits either.
        var settings = sessions.Select((_, i) => i % 2 == 0 ? SessionTestHelpers.Greedy(8) : SessionTestHelpers.Sampled(seed: 500 + (ulong)i, 8)).ToArray();
        for (int i = 0; i < sessions.Length; i++) await sessions[i].ConfigureAsync(settings[i]);
        // One conversation at a time: a verifier only evicts idle caches, so under full concurrency the budget is
        // soft; sequential turns make the evictions certain.
        for (int turn = 0; turn < 2; turn++)
            for (int i = 0; i < sessions.Length; i++)
                await sessions[i].ChatAsync(SessionTestHelpers.Prompts[(i + turn) % SessionTestHelpers.Prompts.Length]);

        int evictions = 0;
        foreach (var silo in f.Cluster.Silos.Where(s => s.IsActive))   // another test of this class may kill a silo
            evictions += (await f.Client.GetGrain<SpecEdge.Grains.Verification.IVerifierBatchGrain>(new SpecEdge.Grains.Verification.VerifierKey(silo.Name, 0).ToString()).GetStatsAsync()).Evictions;
        output.WriteLine($"evictions: {evictions}");
        Assert.True(evictions > 0, "20 sessions on two verifiers with room for ~7 each must evict");

        // Every second turn (served after its cache may have been evicted, drafted on the server) equals target-only decoding.
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        for (int i = 0; i < sessions.Length; i++)
        {
            var all = (await sessions[i].AttachEdgeAsync("reader", observer)).Committed;
            await sessions[i].DetachEdgeAsync("reader");
            int replyStart = f.ReplyStarts(all)[^1];
            Assert.Equal(f.ReferenceReply(all[..replyStart], settings[i] with { Seed = (await sessions[i].GetAsync()).Seed }), all[replyStart..]);
        }
    }

    [Fact]
    public async Task RepliesInProgressAreNeverEvicted_ATurnBeyondCapacityIsRefusedClearly_AndGetsInOnceOneEnds()
    {
        // Turns whose edges stay silent hold their caches with a reply in progress. Evicting one of them for a newcomer
        // (what an LRU of caches between steps did) would make it fight its way back for every step; instead the
        // newcomer is refused, before anything changes in its conversation.
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        var started = new List<(ISessionGrain Session, TurnStarted Turn)>();
        ISessionGrain? refused = null;
        string? refusal = null;
        for (int i = 0; i < 40 && refused is null; i++)
        {
            var session = f.Client.GetGrain<ISessionGrain>($"test/capacity-{i}");
            await session.ConfigureAsync(SessionTestHelpers.Greedy(8));
            await session.AttachEdgeAsync("silent-edge", observer);
            try { started.Add((session, await session.SendUserMessageAsync(SessionTestHelpers.Prompts[i % SessionTestHelpers.Prompts.Length]))); }
            catch (Exception e) { (refused, refusal) = (session, e.Message); }
        }
        output.WriteLine($"{started.Count} replies in progress; refused: {refusal}");
        Assert.NotNull(refused);
        Assert.Contains("at capacity", refusal);
        var untouched = await refused!.GetAsync();
        Assert.False(untouched.Generating);
        Assert.Equal(0, untouched.CommittedTokens);

        // The silent edges' leases run out, the server finishes their replies (exactly), and the refused turn gets in.
        TurnStarted? late = null;
        for (int attempt = 0; late is null && attempt < 120; attempt++)
        {
            try { late = await refused.SendUserMessageAsync(SessionTestHelpers.Prompts[0]); }
            catch (Exception e) when (e.Message.Contains("at capacity")) { await Task.Delay(500); }
        }
        Assert.NotNull(late);
        foreach (var (session, turn) in started.Append((refused, late!)))
        {
            var (tokens, _) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(TimeSpan.FromSeconds(120));
            Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 8), tokens);
        }
    }

    private static async Task<string> Outcome(Func<Task<string>> call)
    {
        try { await call(); return "ok"; }
        catch (Exception e) { return e.GetType().Name + ": " + e.Message; }
    }

}
