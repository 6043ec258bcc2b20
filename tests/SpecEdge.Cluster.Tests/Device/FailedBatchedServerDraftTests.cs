using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A batched drafting pass (SpecEdge:BatchServerDrafts) that fails: every tree of the pass is dropped and its step
/// decoded plainly, the replies are still the target's own, and the next step drafts again from fresh drafters.
/// </summary>
[Trait("Kind", "unit")]
public class FailedBatchedServerDraftTests(ServerDraftDeviceFixture f) : IClassFixture<ServerDraftDeviceFixture>
{
    [Fact]
    public async Task AFailedDraftingPass_DecodesItsStepsPlainly_AndTheNextStepDraftsFromFreshDrafters()
    {
        const int newTokens = 32;
        int passes = 0;
        // The first pass fails after its draft forwards ran, as one failing in its last round would: its drafters are
        // left with trees in flight, so a runner that kept any of them could not draft that session's next tree.
        var runner = f.Runner(drafters =>
        {
            var trees = BatchTreeDrafting.BuildTrees(drafters);
            if (passes++ == 0) throw new InvalidOperationException("the batched draft forward failed");
            return trees;
        });
        var sessions = new[] { "test/failed-pass-0", "test/failed-pass-1", "test/failed-pass-2" }
            .Select((id, i) => (SessionId: id, Sequence: f.Greedy(runner, id, SessionTestHelpers.Prompts[i], newTokens))).ToArray();
        var expected = sessions.Select(s => f.ReferenceGreedy(s.Sequence.Committed, newTokens)).ToArray();
        Assert.All(expected, reply => Assert.True(reply.Length > 2, "a reply ends before the steps checked"));
        try
        {
            await ServerDraftDeviceFixture.Prefill(runner, sessions);

            var failed = await runner.RunAsync(ServerDraftDeviceFixture.ServerDecoded(sessions), TrimRule.None);
            Assert.Equal(1, passes);
            Assert.All(failed.ServerDrafted, Assert.False);
            Assert.Empty(failed.DraftPasses);
            // Plain steps: each commits the target's one token, no step fails.
            Assert.All(failed.Results, r => Assert.Single(r.Verdict!.AcceptedTokens));

            var next = await runner.RunAsync(ServerDraftDeviceFixture.ServerDecoded(sessions), TrimRule.None);
            Assert.All(next.ServerDrafted, Assert.True);
            Assert.Equal(new[] { sessions.Length }, next.DraftPasses.Select(p => p.Trees));
            Assert.All(next.Results, r => Assert.Null(r.Error));

            await ServerDraftDeviceFixture.FinishReplies(runner, sessions);
            for (int i = 0; i < sessions.Length; i++) Assert.Equal(expected[i], sessions[i].Sequence.Generated);
        }
        finally
        {
            await runner.ReleaseAllAsync(sessions.Select(s => s.Sequence).ToList());
        }
    }
}
