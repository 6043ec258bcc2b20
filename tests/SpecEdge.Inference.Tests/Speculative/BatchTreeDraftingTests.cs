using SpecEdge.Inference.Speculative;
using SpecEdge.Protocol;
using SpecEdge.TestSupport;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Batched equals unbatched for the server's drafting: trees drafted in one pass per round for many sequences
/// (<see cref="BatchTreeDrafting"/>) are the trees each drafter builds alone, step after step, whatever the sequences'
/// lengths, a catch-up of missed tokens, a subtree carried over by a won bet, or a drafter with no room left for nodes.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class BatchTreeDraftingTests
{
    [Fact]
    public void TreesDraftedTogether_AreTheTreesEachDrafterDraftsAlone_StepAfterStep()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var random = new Random(11);
        int vocab = draft.Config.VocabSize;
        var fixedTree = new DraftTreeOptions { Budget = 12, MaxDepth = 4, Proactive = false };
        var adaptive = new DraftTreeOptions { Budget = 16, MaxDepth = 6, Proactive = false, Adaptive = new AdaptiveTreeOptions { MinBudget = 4 } };
        var betting = new DraftTreeOptions { Budget = 10, MaxDepth = 4, Proactive = true, GreedyVerification = true };
        // Prompts of different lengths; the fourth drafter's context is full but for two nodes.
        var setups = new (int[] Prompt, DraftTreeOptions Options, int ContextLimit)[]
        {
            (TestModels.RandomTokens(random, 5, vocab), fixedTree, int.MaxValue),
            (TestModels.RandomTokens(random, 23, vocab), adaptive, int.MaxValue),
            (TestModels.RandomTokens(random, 11, vocab), betting, int.MaxValue),
            (TestModels.RandomTokens(random, 9, vocab), fixedTree, 11),
        };
        TreeDrafter New((int[] Prompt, DraftTreeOptions Options, int ContextLimit) s) => new(draft, s.Prompt, s.Options, 256) { ContextLimit = s.ContextLimit };
        var batched = setups.Select(New).ToArray();
        var alone = setups.Select(New).ToArray();
        try
        {
            int betsWon = 0;
            for (int step = 0; step < 4; step++)
            {
                var ready = Enumerable.Range(0, setups.Length).Where(i => batched[i].CanBuildTree).ToArray();
                var together = BatchTreeDrafting.BuildTrees(ready.Select(i => batched[i]).ToList());
                for (int r = 0; r < ready.Length; r++)
                {
                    int i = ready[r];
                    var own = alone[i].BuildTree();
                    Assert.Equal(own.Step, together[r].Step);
                    Assert.Equal(own.CommittedLength, together[r].CommittedLength);
                    Assert.Equal(own.Tokens, together[r].Tokens);
                    Assert.Equal(own.Parents, together[r].Parents);
                    Assert.All(own.Confidence!.Zip(together[r].Confidence!), c => Assert.InRange(c.Second - c.First, -1, 1));
                    if (i == 3) Assert.True(own.Tokens.Length <= 1 + Math.Max(0, 11 - batched[i].Committed.Count), "no node past the context's room");

                    // The same verdict for both twins: the betting drafter's bet wins (its subtree carries over), the
                    // others take two nodes of the tree's first path and a bonus; the adaptive one after step 1 also
                    // misses a step (an edge decoded it) and catches up.
                    VerdictMessage verdict;
                    if (i == 2)
                    {
                        batched[i].PreDraft();
                        alone[i].PreDraft();
                        Assert.Equal(alone[i].CurrentBet, batched[i].CurrentBet);
                        verdict = BetWinning(together[r], batched[i].CurrentBet!.Value);
                    }
                    else verdict = new VerdictMessage(together[r].Step, TreePaths.FirstChildPath(together[r], 2).Append(random.Next(vocab)).ToArray(), false);
                    batched[i].Complete(verdict, new VerifierLoad(1, 0, 0, 0));
                    alone[i].Complete(verdict, new VerifierLoad(1, 0, 0, 0));
                    if (i == 2) betsWon = batched[i].ProactiveHits;
                    if (i == 1 && step == 1)
                    {
                        var missed = TestModels.RandomTokens(random, 3, vocab);
                        batched[i].StartTurn(missed, batched[i].Step + 3);
                        alone[i].StartTurn(missed, alone[i].Step + 3);
                    }
                }
            }
            Assert.True(betsWon >= 3, $"the bets won ({betsWon} of 4), so carried subtrees were drafted on");
        }
        finally
        {
            foreach (var d in batched.Concat(alone)) d.Dispose();
        }
    }

    [Fact]
    public void BadBatches_AreRefusedByName()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var (otherTarget, other) = Pair("qwen3", DraftKind.Unrelated);
        using var ___ = otherTarget;
        using var ____ = other;
        var options = new DraftTreeOptions { Budget = 4, MaxDepth = 3, Proactive = false };
        using var a = new TreeDrafter(draft, new[] { 1, 2, 3 }, options, 64);
        using var b = new TreeDrafter(other, new[] { 1, 2, 3 }, options, 64);
        Assert.Contains("one draft model", Assert.Throws<ArgumentException>(() => BatchTreeDrafting.BuildTrees(new[] { a, b })).Message);
        Assert.Contains("one tree per pass", Assert.Throws<ArgumentException>(() => BatchTreeDrafting.BuildTrees(new[] { a, a })).Message);
        a.BuildTree();
        Assert.Contains("tree is in flight", Assert.Throws<InvalidOperationException>(() => BatchTreeDrafting.BuildTrees(new[] { a })).Message);
        Assert.Empty(BatchTreeDrafting.BuildTrees(Array.Empty<TreeDrafter>()));
    }

    /// <summary>
    /// The verdict a greedy bet wins: the draft's argmax chain to the node bet on (each node's first child in the tree,
    /// its likeliest, as nodes come best first), then the bonus bet on.
    /// </summary>
    private static VerdictMessage BetWinning(DraftMessage tree, (int Depth, int NodeToken, int Bonus) bet)
    {
        var path = TreePaths.FirstChildPath(tree, bet.Depth);
        Assert.Equal(bet.Depth, path.Count);
        if (bet.Depth > 0) Assert.Equal(bet.NodeToken, path[^1]);
        return new VerdictMessage(tree.Step, path.Append(bet.Bonus).ToArray(), false);
    }
}
