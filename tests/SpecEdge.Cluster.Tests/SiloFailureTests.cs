using System.Diagnostics;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Persistence;
using SpecEdge.Persistence.Tests;
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
        silo.AddAzureBlobGrainStorage("sessions", o => { o.ConnectionString = connection; o.ContainerName = Container; });
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

public class SiloFailureTests(DurableTwoSiloFixture f, ITestOutputHelper output) : IClassFixture<DurableTwoSiloFixture>
{
    [Fact]
    public async Task KillingTheSiloOfABusySession_ResumesTheReplyOnTheSurvivor_AndItEqualsGreedy()
    {
        const string id = "survivor";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(SessionTestHelpers.Greedy(120));
        var turn = await session.SendUserMessageAsync(SessionTestHelpers.Prompts[0]);

        // Let a few steps commit, then kill the silo that hosts the session (and its verifier, and its KV cache).
        int seen = 0;
        await foreach (var chunk in session.StreamReplyAsync())
            if (++seen == 5) break;
        var beforeKill = await session.GetAsync();
        Assert.True(beforeKill.Generating, "the reply must still be in progress when its silo dies");
        string doomed = beforeKill.Silo!;
        var handle = (InProcessSiloHandle)f.Cluster.Silos.Single(s => s.Name == doomed);
        var clock = Stopwatch.StartNew();
        await f.Cluster.KillSiloAsync(handle);

        // The next call reactivates the session on the surviving silo from blob storage; it rebuilds its KV cache by prefill.
        SessionSnapshot snapshot = null!;
        for (int attempt = 0; ; attempt++)
        {
            try { snapshot = await session.GetAsync(); break; }
            catch (Exception e) when (attempt < 60) { output.WriteLine($"waiting: {e.GetType().Name}"); await Task.Delay(500); }
        }
        var comeback = clock.Elapsed;
        Assert.NotEqual(doomed, snapshot.Silo);

        var reply = new List<int>();
        await foreach (var chunk in session.StreamReplyAsync()) reply.AddRange(chunk.Tokens);
        output.WriteLine($"killed {doomed} with {beforeKill.CommittedTokens - turn.CommittedLength} reply tokens committed; session back on {snapshot.Silo} {comeback.TotalSeconds:F2}s after the kill; reply {reply.Count} tokens");
        var final = await session.GetAsync();
        Assert.False(final.Generating);
        Assert.Equal(turn.CommittedLength + reply.Count, final.CommittedTokens);

        // The reply (before and after the failure) equals the target's greedy continuation of the prompt.
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        var all = (await session.AttachEdgeAsync("reader", observer)).Committed;
        Assert.Equal(f.ReferenceGreedy(all[..turn.CommittedLength], 120), all[turn.CommittedLength..]);
        Assert.Equal(all[turn.CommittedLength..], reply.ToArray());
    }

    [Fact]
    public async Task TwoActivationsOfOneSession_RacingOnStorage_NeverBothCommit()
    {
        // A second, separate cluster on the same storage container: the same session id is active in both at once,
        // which is exactly the split-brain a failover can produce.
        const string id = "raced";
        var first = f.Client.GetGrain<ISessionGrain>(id);
        await first.ConfigureAsync(SessionTestHelpers.Greedy(4));
        await first.ChatAsync("first turn");

        var builder = new InProcessTestClusterBuilder(1);
        string connection = f.StorageConnectionString, target = f.TargetDir;
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddAzureBlobGrainStorage("sessions", o => { o.ConnectionString = connection; o.ContainerName = DurableTwoSiloFixture.Container; });
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
        var sessions = Enumerable.Range(0, 20).Select(i => f.Client.GetGrain<ISessionGrain>($"evict-{i}")).ToArray();
        foreach (var s in sessions) await s.ConfigureAsync(SessionTestHelpers.Greedy(8));
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

        // Every second turn (served after its cache may have been evicted, drafted on the server) equals greedy.
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        foreach (var s in sessions)
        {
            var all = (await s.AttachEdgeAsync("reader", observer)).Committed;
            await s.DetachEdgeAsync("reader");
            int replyStart = f.ReplyStarts(all)[^1];
            Assert.Equal(f.ReferenceGreedy(all[..replyStart], 8), all[replyStart..]);
        }
    }

    private static async Task<string> Outcome(Func<Task<string>> call)
    {
        try { await call(); return "ok"; }
        catch (Exception e) { return e.GetType().Name + ": " + e.Message; }
    }

}
