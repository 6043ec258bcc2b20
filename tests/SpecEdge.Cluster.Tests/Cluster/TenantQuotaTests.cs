using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A tenant's callers may hold at most MaxActiveRepliesPerTenant replies in progress; the quota keys on the verified
/// credential's tenant, another tenant is unaffected, and a finished reply frees its slot.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class TenantQuotaTests(ClusterFixture f)
{
    [Fact]
    public async Task RepliesBeyondTheTenantsQuota_AreRefused_OtherTenantsServed_AndSlotsFreedWhenRepliesEnd()
    {
        int before = f.Models.Options.MaxActiveRepliesPerTenant;
        f.Models.Options.MaxActiveRepliesPerTenant = 2;   // one silo in this fixture: its options are the ones in force
        try
        {
            string service = f.ServiceToken("quota-t");
            var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
            var held = new[] { "quota-t/held-0", "quota-t/held-1" }.Select(id => f.Client.GetGrain<ISessionGrain>(id)).ToArray();
            using (CallerCredential.Use(service))
            {
                // Two replies held open: a silent edge is attached, so nothing decodes them until it leaves.
                foreach (var s in held)
                {
                    await s.ConfigureAsync(SessionTestHelpers.Greedy(8));
                    await s.AttachEdgeAsync("silent", observer);
                    await s.SendUserMessageAsync(SessionTestHelpers.Prompts[0]);
                }
                var third = f.Client.GetGrain<ISessionGrain>("quota-t/third");
                await third.ConfigureAsync(SessionTestHelpers.Greedy(8));
                var refused = await Assert.ThrowsAnyAsync<Exception>(() => third.SendUserMessageAsync(SessionTestHelpers.Prompts[1]));
                Assert.Contains("MaxActiveRepliesPerTenant", refused.Message);
                Assert.False((await third.GetAsync()).Generating);

                // Another tenant is served while quota-t is at its limit.
                using (CallerCredential.Use(f.ServiceToken("quota-u")))
                {
                    var other = f.Client.GetGrain<ISessionGrain>("quota-u/s");
                    await other.ConfigureAsync(SessionTestHelpers.Greedy(8));
                    await other.ChatAsync(SessionTestHelpers.Prompts[2]);
                }

                // The edges leave, the server finishes both replies, and their slots come back.
                foreach (var s in held) await s.DetachEdgeAsync("silent");
                foreach (var s in held) await foreach (var _ in s.StreamReplyAsync()) { }
                await third.ChatAsync(SessionTestHelpers.Prompts[1]);
                var done = await third.GetAsync();
                Assert.Equal("assistant", done.Messages[^1].Role);
            }

        }
        finally
        {
            f.Models.Options.MaxActiveRepliesPerTenant = before;
        }
    }
}
