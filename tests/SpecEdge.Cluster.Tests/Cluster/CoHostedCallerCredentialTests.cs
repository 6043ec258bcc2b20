using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Code co-hosted in a silo process (the OpenAI HTTP API) calls grains through the silo's own grain factory. Under a
/// caller's scoped credential those calls must be judged as that caller's, exactly as from a client: otherwise every
/// HTTP request would act with the silo's all-powerful credential.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class CoHostedCallerCredentialTests(ClusterFixture f)
{
    private IGrainFactory SiloGrains => ((InProcessSiloHandle)f.Cluster.Silos[0]).ServiceProvider.GetRequiredService<IGrainFactory>();

    [Fact]
    public async Task CallsFromOutsideGrains_UnderAScopedCredential_AreJudgedAsThatCaller()
    {
        var mine = SiloGrains.GetGrain<ISessionGrain>("cohost-a/chat");
        var theirs = SiloGrains.GetGrain<ISessionGrain>("cohost-b/chat");
        using (CallerCredential.Use(f.ServiceToken("cohost-a")))
        {
            var started = await mine.BeginTurnAsync(new TurnRequest { Settings = SessionTestHelpers.Greedy(4), Text = "hi" });
            Assert.True(started.CommittedLength > 0);
            var denied = await Assert.ThrowsAsync<AccessDeniedException>(() => theirs.GetAsync());
            Assert.Contains("own tenant", denied.Message);
        }
        using (CallerCredential.Use(f.EdgeToken("cohost-a/chat", "edge-1")))
            await Assert.ThrowsAsync<AccessDeniedException>(() => mine.BeginTurnAsync(new TurnRequest { Settings = SessionTestHelpers.Greedy(4), Text = "hi" }));
        using (CallerCredential.Use(""))
            await Assert.ThrowsAsync<AccessDeniedException>(() => mine.GetAsync());
        // Silo code that scopes nothing keeps acting as the silo (e.g. the API's own conversation index).
        Assert.Equal("cohost-b/chat", (await theirs.GetAsync()).SessionId);
    }
}
