using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A server drafter whose last tree never got its verdict (the target forward failed as a whole after drafting) is
/// dropped and started again at its session's next step, which goes plain; the other trees of that step's drafting
/// pass are drafted as usual, and the replies are still the target's own.
/// </summary>
[Trait("Kind", "unit")]
public class StrandedServerDrafterTests(ServerDraftDeviceFixture f) : IClassFixture<ServerDraftDeviceFixture>
{
    [Fact]
    public async Task ADrafterLeftWithATreeInFlight_IsRestarted_WithoutFailingTheOtherTreesOfThePass()
    {
        const int newTokens = 32;
        var runner = f.Runner();
        var stranded = (SessionId: "test/stranded-drafter", Sequence: f.Greedy(runner, "test/stranded-drafter", SessionTestHelpers.Prompts[0], newTokens));
        var healthy = (SessionId: "test/healthy-drafter", Sequence: f.Greedy(runner, "test/healthy-drafter", SessionTestHelpers.Prompts[1], newTokens));
        // A neighbour whose prompt overflows its KV cache fails the target forward as a whole, before it writes anything,
        // as a device out of memory would: the steps beside it lose their verdicts, not their committed tokens.
        var overflowing = (SessionId: "test/overflowing-neighbour", Sequence: f.Greedy(runner, "test/overflowing-neighbour", SessionTestHelpers.Prompts[2], newTokens, cacheTokens: 2));
        var expected = new[] { stranded, healthy }.Select(s => f.ReferenceGreedy(s.Sequence.Committed, newTokens)).ToArray();
        Assert.All(expected, reply => Assert.True(reply.Length > 2, "a reply ends before the steps checked"));
        try
        {
            await ServerDraftDeviceFixture.Prefill(runner, stranded, healthy);
            var failing = ServerDraftDeviceFixture.ServerDecoded(stranded);
            failing.Add(new DeviceJob(overflowing.SessionId, new PrefillWork(overflowing.Sequence), ServerDrafted: false));
            await Assert.ThrowsAsync<KvCapacityExceededException>(() => runner.RunAsync(failing, TrimRule.None));
            Assert.Equal(0, stranded.Sequence.GeneratedCount);

            var recovered = await runner.RunAsync(ServerDraftDeviceFixture.ServerDecoded(stranded, healthy), TrimRule.None);
            Assert.Equal(new[] { false, true }, recovered.ServerDrafted);
            Assert.Equal(new[] { 1 }, recovered.DraftPasses.Select(p => p.Trees));
            Assert.All(recovered.Results, r => Assert.Null(r.Error));
            Assert.Single(recovered.Results[0].Verdict!.AcceptedTokens);

            // The restarted drafter drafts from the session's next step on, in one pass with the other.
            var next = await runner.RunAsync(ServerDraftDeviceFixture.ServerDecoded(stranded, healthy), TrimRule.None);
            Assert.Equal(new[] { true, true }, next.ServerDrafted);
            Assert.Equal(new[] { 2 }, next.DraftPasses.Select(p => p.Trees));

            await ServerDraftDeviceFixture.FinishReplies(runner, stranded, healthy);
            Assert.Equal(expected[0], stranded.Sequence.Generated);
            Assert.Equal(expected[1], healthy.Sequence.Generated);
        }
        finally
        {
            await runner.ReleaseAllAsync(new[] { stranded.Sequence, healthy.Sequence, overflowing.Sequence });
        }
    }
}
