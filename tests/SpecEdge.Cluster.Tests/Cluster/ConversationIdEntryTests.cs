using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The cluster's entries refuse ids that do not parse, by name: the credential issuer (for services and operators), the
/// call policy (for services and edges), and the session itself (for operators, whom the policy does not check). The
/// victim's conversation is unchanged and still replies greedily afterwards.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class ConversationIdEntryTests(ClusterFixture f)
{
    private static readonly string[] Hostile = ["mallory/../local/victim-1", "mallory/./x", "mallory/%2e%2e/x", "mallory//x", "mallory\\..\\x/y", "mallory/v\u0456ctim", "mallory/" + new string('x', 10_000)];

    private static async Task<T> As<T>(string token, Func<Task<T>> call)
    {
        using (CallerCredential.Use(token)) return await call();
    }

    [Fact]
    public async Task TheIssuer_RefusesHostileIds_ForServicesAndOperators()
    {
        var issuer = f.Client.GetGrain<ICredentialIssuerGrain>(0);
        foreach (var id in Hostile)
        {
            var e = await As(f.ServiceToken("mallory"), () => Assert.ThrowsAsync<ArgumentException>(() => issuer.IssueEdgeCredentialAsync(id, "edge-m", chat: true, TimeSpan.FromMinutes(5))));
            Assert.Contains("conversation id", e.Message);
            await Assert.ThrowsAsync<ArgumentException>(() => issuer.IssueEdgeCredentialAsync(id, "edge-m", chat: true, TimeSpan.FromMinutes(5)));
        }
        // Control: a valid id of the service's own tenant is issued.
        string token = await As(f.ServiceToken("mallory"), () => issuer.IssueEdgeCredentialAsync("mallory/own", "edge-m", chat: true, TimeSpan.FromMinutes(5)));
        Assert.StartsWith("v1.", token);
    }

    [Fact]
    public async Task Sessions_RefuseHostileIds_ForServicesEdgesAndOperators_AndTheVictimStaysExact()
    {
        const string victimId = "local/victim-1";
        string victimService = f.ServiceToken("local"), mallory = f.ServiceToken("mallory");
        foreach (var id in Hostile)
        {
            var session = f.Client.GetGrain<ISessionGrain>(id);
            var asService = await As(mallory, () => Assert.ThrowsAnyAsync<Exception>(() => session.SendUserMessageAsync("injected")));
            Assert.Contains("conversation id", asService.Message);
            var asEdge = await As(f.EdgeToken("mallory/own", "edge-m", chat: true), () => Assert.ThrowsAnyAsync<Exception>(() => session.GetAsync()));
            // The session refuses to activate under that key before the policy would refuse the edge; either names the refusal.
            Assert.True(asEdge is AccessDeniedException || asEdge.Message.Contains("conversation id"), asEdge.ToString());
            var asOperator = await Assert.ThrowsAnyAsync<Exception>(() => session.GetAsync());
            Assert.Contains("conversation id", asOperator.ToString());
        }

        var victim = f.Client.GetGrain<ISessionGrain>(victimId);
        var reply = new List<int>();
        var turn = await As(victimService, async () =>
        {
            await victim.ConfigureAsync(SessionTestHelpers.Greedy(12));
            var started = await victim.SendUserMessageAsync(SessionTestHelpers.Prompts[2]);
            await foreach (var chunk in victim.StreamReplyAsync()) reply.AddRange(chunk.Tokens);
            return started;
        });
        Assert.Equal(turn.CommittedLength, turn.AppendedTokens.Length);   // nothing was written into it
        Assert.Equal(f.ReferenceGreedy(turn.AppendedTokens, 12), reply.ToArray());
    }
}
