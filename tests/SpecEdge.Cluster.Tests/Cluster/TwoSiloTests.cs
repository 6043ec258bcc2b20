using SpecEdge.Contracts;
using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

public sealed class TwoSiloFixture : ClusterFixture
{
    protected override short Silos => 2;
}

/// <summary>With two silos, each verifier lives on its own silo and every session lives with its verifier.</summary>
[Trait("Kind", "cluster")]
public class TwoSiloTests(TwoSiloFixture f) : IClassFixture<TwoSiloFixture>
{
    [Fact]
    public async Task Verifiers_LandOnTheirSilos_AndSessionsWithTheirVerifier()
    {
        var siloNames = f.Cluster.Silos.Select(s => s.Name).ToArray();
        Assert.Equal(2, siloNames.Distinct().Count());
        foreach (var name in siloNames)
        {
            var stats = await f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(name, 0).ToString()).GetStatsAsync();
            Assert.Equal(name, stats.Silo);
        }

        var sessions = Enumerable.Range(0, 12).Select(i => f.Client.GetGrain<ISessionGrain>($"test/spread-{i}")).ToArray();
        foreach (var s in sessions) await s.ConfigureAsync(SessionTestHelpers.Greedy(6));
        await Task.WhenAll(sessions.Select((s, i) => s.ChatAsync(SessionTestHelpers.Prompts[i % SessionTestHelpers.Prompts.Length])));

        var placed = new Dictionary<string, int>();
        foreach (var s in sessions)
        {
            var snapshot = await s.GetAsync();
            placed[snapshot.Silo!] = placed.GetValueOrDefault(snapshot.Silo!) + 1;
        }
        Assert.Equal(2, placed.Count);   // spread over both silos
        // Each silo's verifier holds exactly the sessions placed on that silo.
        foreach (var (silo, count) in placed)
        {
            var stats = await f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo, 0).ToString()).GetStatsAsync();
            Assert.Equal(count, stats.Sessions);
        }
    }

    [Fact]
    public async Task VerifierForAnUnknownSilo_FailsWithAClearError()
    {
        var e = await Assert.ThrowsAnyAsync<Exception>(() => f.Client.GetGrain<IVerifierBatchGrain>("no-such-silo|0").GetStatsAsync());
        Assert.Contains("no-such-silo", e.Message);
    }
}
