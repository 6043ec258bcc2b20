using System.Diagnostics;
using Orleans.TestingHost;
using SpecEdge.Contracts;
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

    protected override void ConfigureStorage(ISiloBuilder silo)
    {
        string connection = _azurite!.ConnectionString;
        silo.AddAzureBlobGrainStorage("sessions", o => { o.ConnectionString = connection; o.ContainerName = "sessions-under-test"; });
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
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NoopObserver());
        var all = (await session.AttachEdgeAsync("reader", observer)).Committed;
        Assert.Equal(f.ReferenceGreedy(all[..turn.CommittedLength], 120), all[turn.CommittedLength..]);
        Assert.Equal(all[turn.CommittedLength..], reply.ToArray());
    }

    private sealed class NoopObserver : IEdgeObserver
    {
        public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;
        public Task OnRejected(TreeRejection rejection) => Task.CompletedTask;
        public Task OnTurnStarted(TurnStarted turn) => Task.CompletedTask;
    }
}
