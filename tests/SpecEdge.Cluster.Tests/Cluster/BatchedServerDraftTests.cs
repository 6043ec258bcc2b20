using SpecEdge.Contracts;
using SpecEdge.Grains.Verification;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Server-decoded replies running at once: the silo drafts their trees together, one batched draft forward per round
/// (SpecEdge:BatchServerDrafts, on by default), and every reply is still the target's own, greedy and seeded.
/// </summary>
[Trait("Kind", "cluster")]
public class BatchedServerDraftTests(ServerDraftClusterFixture f, ITestOutputHelper output) : IClassFixture<ServerDraftClusterFixture>
{
    [Fact]
    public async Task ConcurrentServerDraftedReplies_AreDraftedTogether_AndEachIsTheTargets()
    {
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(f.Cluster.Silos[0].Name, 0).ToString());
        var before = (await verifier.GetStatsAsync()).ServerDrafts!;
        const int newTokens = 40;
        var settings = new[]
        {
            SessionTestHelpers.Greedy(newTokens), SessionTestHelpers.Sampled(seed: 3, maxNewTokens: newTokens),
            SessionTestHelpers.Greedy(newTokens), SessionTestHelpers.Sampled(seed: 8, maxNewTokens: newTokens),
        };
        var ids = settings.Select((_, i) => $"test/batched-server-draft-{i}").ToArray();
        for (int i = 0; i < ids.Length; i++) await f.Client.GetGrain<ISessionGrain>(ids[i]).ConfigureAsync(settings[i]);
        await Task.WhenAll(ids.Select((id, i) => f.Client.GetGrain<ISessionGrain>(id).ChatAsync(SessionTestHelpers.Prompts[i])));
        await Task.WhenAll(ids.Select(id => f.Client.GetGrain<ISessionGrain>(id).GetAsync()));

        for (int i = 0; i < ids.Length; i++)
        {
            var all = await SessionTestHelpers.CommittedTokensAsync(f.Client, ids[i]);
            int start = f.ReplyStarts(all).Single();
            Assert.Equal(f.ReferenceReply(all[..start], settings[i] with { Seed = settings[i].Seed ?? 0 }), all[start..]);
        }
        var after = (await verifier.GetStatsAsync()).ServerDrafts!;
        long steps = after.DraftedSteps - before.DraftedSteps, passes = after.DraftPasses - before.DraftPasses;
        output.WriteLine($"{steps} server-drafted steps in {passes} drafting passes");
        Assert.True(steps > 0, "the server drafted no tree");
        // Four replies stepping at once share forwards, so some pass drafted several trees.
        Assert.True(passes < steps, $"{steps} trees took {passes} passes: none was drafted together");
    }
}
