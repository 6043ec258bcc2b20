using SpecEdge.Inference.Speculative;
using SpecEdge.Protocol;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// A server drafter that missed steps (an edge decoded them, or the server decoded them plainly because drafting did not
/// pay) catches up with <see cref="TreeDrafter.StartTurn"/> instead of being rebuilt: incremental equals full recompute,
/// its next tree is the one a drafter built afresh on the same tokens drafts.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class DrafterCatchUpTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    public void ADrafterThatCatchesUpWithStepsItDidNotDraft_DraftsTheTreeAFreshDrafterDrafts(int missed)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var random = new Random(5);
        int vocab = draft.Config.VocabSize;
        var prompt = TestModels.RandomTokens(random, 14, vocab);
        var later = TestModels.RandomTokens(random, 1 + missed, vocab);
        var options = new DraftTreeOptions { Budget = 12, MaxDepth = 4, Proactive = false };

        using var caughtUp = new TreeDrafter(draft, prompt, options, 256);
        caughtUp.BuildTree();
        // Its step's verdict: one token (a bonus, not on the tree's path); then steps it never saw, and a jump of step.
        caughtUp.Complete(new VerdictMessage(0, new[] { later[0] }, false), new VerifierLoad(1, 0, 0, 0));
        caughtUp.StartTurn(later[1..], step: 1 + missed);
        var incremental = caughtUp.BuildTree();

        using var fresh = new TreeDrafter(draft, prompt.Concat(later).ToArray(), options, 256, step: 1 + missed);
        var recomputed = fresh.BuildTree();

        Assert.Equal(recomputed.Step, incremental.Step);
        Assert.Equal(recomputed.CommittedLength, incremental.CommittedLength);
        Assert.Equal(recomputed.Tokens, incremental.Tokens);
        Assert.Equal(recomputed.Parents, incremental.Parents);
        Assert.All(recomputed.Confidence!.Zip(incremental.Confidence!), c => Assert.InRange(c.Second - c.First, -1, 1));
    }
}
