using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeHost;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>An edge may call at any rate: past its per-edge limit the silo refuses calls before any grain code runs.</summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class EdgeFloodTests(ClusterFixture f, ITestOutputHelper output)
{
    [Fact]
    public async Task AFloodingEdge_IsRefusedPastItsRate_ItsNeighbourStaysExact_AndItMayCallAgainLater()
    {
        const string flooder = "test/flood-source", neighbour = "test/flood-neighbour";
        await f.Client.GetGrain<ISessionGrain>(flooder).ConfigureAsync(SessionTestHelpers.Greedy(8));
        var honest = SessionTestHelpers.EdgeReplyAsync(f, neighbour, SessionTestHelpers.Prompts[6], f.PerfectDraft, proactive: true, maxNewTokens: 24);

        int refused = 0, answered = 0;
        using (CallerCredential.Use(f.EdgeToken(flooder, "edge-flood")))
        {
            var session = f.Client.GetGrain<ISessionGrain>(flooder);
            var calls = Enumerable.Range(0, 3000).Select(async _ =>
            {
                try { await session.GetAsync(); Interlocked.Increment(ref answered); }
                catch (InvalidOperationException e) when (e.Message.Contains("Too many calls")) { Interlocked.Increment(ref refused); }
            }).ToArray();
            await Task.WhenAll(calls);
        }
        output.WriteLine($"flood of 3000 calls: {answered} answered, {refused} refused");
        Assert.True(refused > 0, "a flood past the edge's burst must be refused");
        Assert.True(answered >= 1000, $"the burst (twice the per-second rate) must be served; {answered} were");

        var (reply, prompt, _) = await honest;
        Assert.Equal(f.ReferenceGreedy(prompt, 24), reply);

        await Task.Delay(TimeSpan.FromSeconds(1));
        using (CallerCredential.Use(f.EdgeToken(flooder, "edge-flood")))
            Assert.Equal(flooder, (await f.Client.GetGrain<ISessionGrain>(flooder).GetAsync()).SessionId);
    }

    [Fact]
    public async Task RefusedCalls_CountAgainstTheEdgesRate_SoAFloodOfThemIsCutShortToo()
    {
        const string own = "test/refused-flood-own", victim = "test/refused-flood-victim";
        await f.Client.GetGrain<ISessionGrain>(victim).ConfigureAsync(SessionTestHelpers.Greedy(8));
        int denied = 0, limited = 0;
        using (CallerCredential.Use(f.EdgeToken(own, "edge-refused-flood")))
        {
            var target = f.Client.GetGrain<ISessionGrain>(victim);
            var calls = Enumerable.Range(0, 3000).Select(async _ =>
            {
                try { await target.GetAsync(); }
                catch (AccessDeniedException) { Interlocked.Increment(ref denied); }
                catch (InvalidOperationException e) when (e.Message.Contains("Too many calls")) { Interlocked.Increment(ref limited); }
            }).ToArray();
            await Task.WhenAll(calls);
        }
        output.WriteLine($"flood of 3000 refused calls: {denied} denied by the policy, {limited} cut by the edge's rate");
        Assert.Equal(3000, denied + limited);
        Assert.True(limited > 0, "calls the policy refuses must still cost the edge its rate");
        Assert.True(denied >= 1000, $"the burst is judged by the policy; {denied} were");
    }
}
