using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The sampling seed predicts every sample of a conversation: a snapshot shows it only to the principal that set it and
/// to operators, never to an edge (even one with the chat right, even one that set it), and nobody but operators sees a
/// seed the session chose at random.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class SeedPrivacyTests(ClusterFixture f)
{
    private static async Task<T> As<T>(string token, Func<Task<T>> call)
    {
        using (CallerCredential.Use(token)) return await call();
    }

    private static async Task As(string token, Func<Task> call)
    {
        using (CallerCredential.Use(token)) await call();
    }

    [Fact]
    public async Task ASeedSetByAService_IsShownToThatServiceAndOperators_NeverToEdges()
    {
        const string id = "seeds-a/service-set";
        string service = f.ServiceToken("seeds-a"), edge = f.EdgeToken(id, "edge-s", chat: true), drafter = f.EdgeToken(id, "edge-d");
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await As(service, () => session.ConfigureAsync(SessionTestHelpers.Sampled(seed: 1234, maxNewTokens: 4)));

        Assert.Equal(1234UL, (await As(service, () => session.GetAsync())).Seed);
        Assert.Equal(1234UL, (await session.GetAsync()).Seed);   // the fixture's operator
        Assert.Null((await As(edge, () => session.GetAsync())).Seed);
        Assert.Null((await As(drafter, () => session.GetAsync())).Seed);
        await As(f.ServiceToken("seeds-other"), () => Assert.ThrowsAsync<AccessDeniedException>(() => session.GetAsync()));
    }

    [Fact]
    public async Task ASeedTheSessionChose_IsShownToOperatorsOnly()
    {
        const string id = "seeds-a/session-chosen";
        string service = f.ServiceToken("seeds-a"), edge = f.EdgeToken(id, "edge-s", chat: true);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await As(service, () => session.ConfigureAsync(SessionTestHelpers.Sampled(seed: 0, maxNewTokens: 4) with { Seed = null }));

        Assert.NotNull((await session.GetAsync()).Seed);
        Assert.Null((await As(service, () => session.GetAsync())).Seed);
        Assert.Null((await As(edge, () => session.GetAsync())).Seed);
    }

    [Fact]
    public async Task ASeedSetByAnEdgeWithTheChatRight_IsNotShownBackToIt_NorToTheService()
    {
        const string id = "seeds-a/edge-set";
        string service = f.ServiceToken("seeds-a"), edge = f.EdgeToken(id, "edge-s", chat: true);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await As(edge, () => session.ConfigureAsync(SessionTestHelpers.Sampled(seed: 99, maxNewTokens: 4)));

        Assert.Equal(99UL, (await session.GetAsync()).Seed);
        Assert.Null((await As(edge, () => session.GetAsync())).Seed);
        Assert.Null((await As(service, () => session.GetAsync())).Seed);
    }
}
