using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using SpecEdge.Protocol;
using Xunit;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// The server's own drafting priced by the goodput rule: whether it pays beside one sequence and beside many (closed
/// forms), how a hand-back weighs it against the edge's loop, what the ledger learns, and the verifier's per-forward
/// decision (<see cref="TrimRule.DraftsServerTrees"/>). No model runs: sequences are bare caches.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class ServerDraftPricingTests : IDisposable
{
    private readonly BareSequences _sequences = new();

    /// <summary>Four tokens a step, 5 ms to draft a tree, 8 of its nodes verified.</summary>
    private static readonly ServerDraftCost GoodDraft = new(4, 5, 8);

    [Fact]
    public void DraftingPays_BesideOneSequence_AndNotBesideMany()
    {
        // One sequence, 10 ms forwards, 0.1 ms a node: 3 more tokens for 5.8 ms beat one token per 10 ms.
        Assert.True(GoodputCut.ServerDraftingPays(1, 1, 10, GoodDraft, 0, 0.1));
        // Eight sequences in a 12 ms forward (0.67 tokens/ms): drafting one tree after another brings 24 tokens for 46.4 ms.
        Assert.False(GoodputCut.ServerDraftingPays(8, 8, 12, GoodDraft, 0, 0.1));
        // The boundary is the forward's own rate: (E - 1) / extra against expected / cost.
        double extra = GoodDraft.ExtraMs(0.1);
        Assert.True(GoodputCut.ServerDraftingPays(1, 1, extra / 3 * 1.01, GoodDraft, 0, 0.1));
        Assert.False(GoodputCut.ServerDraftingPays(1, 1, extra / 3 * 0.99, GoodDraft, 0, 0.1));
        // A draft never accepted brings nothing; nothing to draft, nothing to pay.
        Assert.False(GoodputCut.ServerDraftingPays(1, 1, 10, GoodDraft with { TokensPerStep = 1 }, 0, 0.1));
        Assert.False(GoodputCut.ServerDraftingPays(0, 1, 10, GoodDraft, 0, 0.1));
    }

    [Fact]
    public void DraftingTreesTogether_PaysBesideManySequences_WhereOneAfterAnotherDoesNot()
    {
        // Eight trees drafted together in 7 ms (6 ms a pass, 0.125 ms a tree) instead of 40 ms: 24 tokens for 7 + 6.4 ms
        // beat the forward's 8 per 12 ms.
        var together = new ServerDraftCost(4, 0.125, 8, DraftFixedMs: 6);
        Assert.Equal(7, together.DraftingMs(8), 9);
        Assert.Equal(0, together.DraftingMs(0), 9);
        Assert.Equal(6 + 8 * (0.125 + 0.1 * 8), together.ExtraMs(8, 0.1), 9);
        Assert.True(GoodputCut.ServerDraftingPays(8, 8, 12, together, 0, 0.1));
        Assert.False(GoodputCut.ServerDraftingPays(8, 8, 12, GoodDraft, 0, 0.1));
        // Beside 64 it stops paying too: 192 tokens for 6 + 59.2 ms against 64 per 12 ms.
        Assert.False(GoodputCut.ServerDraftingPays(64, 64, 12, together, 0, 0.1));
        // A hand-back beside eight sequences weighs the same: a server that drafts together takes the session back.
        var cumulative = new List<double[]> { new[] { 0, 0.9, 1.6, 2.0, 2.2 } };
        Assert.True(GoodputCut.ServerDecodingPays(cumulative, new[] { 4 }, 20, 0.2, 0.1, turnaround: 14, serverDraft: together, baseExpected: 8)[0]);
        Assert.False(GoodputCut.ServerDecodingPays(cumulative, new[] { 4 }, 20, 0.2, 0.1, turnaround: 14, serverDraft: GoodDraft, baseExpected: 8)[0]);
    }

    [Fact]
    public void AHandBack_WeighsTheServersOwnSpeculation_WhereItPays()
    {
        // One edge tree whose 4 nodes bring 2.2 tokens, behind a 14 ms turnaround, in a 20 ms forward: 3.2 tokens per
        // 36.2 ms beat plain decoding's one per 20 ms, so without a server draft the session stays with its edge.
        var cumulative = new List<double[]> { new[] { 0, 0.9, 1.6, 2.0, 2.2 } };
        int[] keep = { 4 };
        Assert.False(GoodputCut.ServerDecodingPays(cumulative, keep, 20, 0.2, 0.5, turnaround: 14)[0]);
        // The server's own draft commits 4 tokens per 20 + 0.2 + 9 ms: faster than the edge's loop, so it is handed back.
        Assert.True(GoodputCut.ServerDecodingPays(cumulative, keep, 20, 0.2, 0.5, turnaround: 14, serverDraft: GoodDraft, baseExpected: 1)[0]);
        // Beside eight sequences the server's drafting does not pay (it would draft eight trees one after another): as without.
        Assert.False(GoodputCut.ServerDecodingPays(cumulative, keep, 20, 0.2, 0.5, turnaround: 14, serverDraft: GoodDraft, baseExpected: 8)[0]);
    }

    [Fact]
    public void TheLedger_KnowsNothingBeforeItsMinimum_ThenFollowsWhatItSees_AndIgnoresSlowFirstDrafts()
    {
        var ledger = new ServerDraftLedger();
        // The first drafts of a device are slow (kernels compiled, caches warmed): 200 ms, then 5 ms, a tree a pass.
        ledger.ObservePass(1, 200);
        ledger.ObservePass(1, 150);
        for (int i = 0; i < ServerDraftLedger.MinSteps - 1; i++)
        {
            ledger.ObserveStep(verifiedNodes: 8, tokens: i % 2 == 0 ? 3 : 5);
            ledger.ObservePass(1, 5);
        }
        Assert.Null(ledger.Current);
        ledger.ObserveStep(8, 5);
        var known = Assert.IsType<ServerDraftCost>(ledger.Current);
        Assert.Equal(4, known.TokensPerStep, 9);          // the mean tokens of the steps seen
        Assert.Equal(5, known.DraftMs, 9);                // the median draft time: the slow first drafts do not count
        Assert.Equal(0, known.DraftFixedMs, 9);           // passes of one tree only: all of it per tree
        Assert.Equal(8, known.VerifiedNodes, 9);
        for (int i = 0; i < ServerDraftLedger.Window; i++)   // the draft got cheaper and worse: the figures follow
        {
            ledger.ObserveStep(4, 2);
            ledger.ObservePass(1, 2);
        }
        Assert.Equal(new ServerDraftCost(2, 2, 4), ledger.Current);
        Assert.Throws<ArgumentOutOfRangeException>(() => ledger.ObservePass(1, double.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => ledger.ObservePass(0, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ledger.ObserveStep(1, 0));
    }

    [Fact]
    public void TheLedger_LearnsWhatAPassCosts_FixedAndPerTree()
    {
        ServerDraftLedger Ledger(params (int Trees, double Ms)[] passes)
        {
            var ledger = new ServerDraftLedger();
            for (int i = 0; i < ServerDraftLedger.MinSteps; i++) ledger.ObserveStep(8, 4);
            foreach (var (trees, ms) in passes) ledger.ObservePass(trees, ms);
            return ledger;
        }
        // No pass yet: nothing known.
        Assert.Null(Ledger().Current);
        // Passes of 4 trees only: counted per tree (1.5 ms), as if each more tree cost as much again.
        var four = Ledger((4, 6), (4, 6), (4, 50)).Current!.Value;
        Assert.Equal((0, 1.5), (four.DraftFixedMs, four.DraftMs));
        // Passes of 1 and 8 trees: 5 ms and 8.5 ms make 4.5 ms a pass and 0.5 ms a tree; the slow first pass does not count.
        var batched = Ledger((1, 5), (1, 5), (1, 90), (8, 8.5), (8, 8.5), (8, 8.5)).Current!.Value;
        Assert.Equal(4.5, batched.DraftFixedMs, 9);
        Assert.Equal(0.5, batched.DraftMs, 9);
        // Slow passes of several sizes (a cold device, prompts caught up) among usual ones of 1 to 8 trees: 4 + 0.5 a tree.
        var cold = Ledger((3, 60), (5, 70), (2, 50), (1, 4.5), (2, 5), (4, 6), (8, 8), (8, 8), (4, 6), (1, 4.5), (6, 7), (2, 5)).Current!.Value;
        Assert.Equal(4, cold.DraftFixedMs, 9);
        Assert.Equal(0.5, cold.DraftMs, 9);
        // Larger passes no dearer (noise): a fixed cost, their mean.
        var flat = Ledger((1, 6), (8, 5)).Current!.Value;
        Assert.Equal((5.5, 0.0), (flat.DraftFixedMs, flat.DraftMs));
        // Dearer per tree the larger (one after another, and worse): no fixed part, the median time per tree.
        var steep = Ledger((1, 1), (2, 4), (2, 4)).Current!.Value;
        Assert.Equal(0, steep.DraftFixedMs, 9);
        Assert.Equal(2, steep.DraftMs, 9);
    }

    [Fact]
    public void TheTrimmer_LearnsFromServerDraftedVerdicts_ButNotFromOnesAStopCut()
    {
        var trimmer = new TreeTrimmer();
        for (int i = 0; i < ServerDraftLedger.MinSteps; i++)
        {
            trimmer.ObserveServerDraftPass(2, 8);
            trimmer.ObserveServerDraft(6, new VerdictMessage(i, new[] { 1, 2, 3 }, false));
            trimmer.ObserveServerDraft(6, new VerdictMessage(i, new[] { 1 }, true));     // finished: says nothing of acceptance
        }
        Assert.Equal(new ServerDraftCost(3, 4, 6), trimmer.ServerDraft);
    }

    [Fact]
    public void WhileDraftingDoesNotPay_EveryServerDraftProbeEvery_ForwardsOneDraftsAnyway()
    {
        var trimmer = new TreeTrimmer();
        for (int i = 0; i < ForwardCostModel.MinForwards * 4; i++)
            trimmer.ObserveForward(new ForwardShape(1 + i % 4, 1 + i % 4 + (i % 3) * 8, i % 3 > 0), 10 + (i % 4) * 0.5 + (i % 3) * 8 * 0.1 + (i % 3 > 0 ? 0.2 : 0));
        for (int i = 0; i < ServerDraftLedger.MinSteps; i++)
        {
            trimmer.ObserveServerDraftPass(1, 50);
            trimmer.ObserveServerDraft(8, new VerdictMessage(i, new[] { 1, 2 }, false));
        }
        // A draft this dear never pays: the rules carry the ledger, and the verifier decodes plainly, except that one
        // forward in ServerDraftProbeEvery + 1 carries none: its server steps are drafted, and the ledger learns afresh.
        var work = new TargetWork[] { Plain() };
        int drafted = 0, forwards = 2 * (TreeTrimmer.ServerDraftProbeEvery + 1);
        for (int f = 0; f < forwards; f++)
        {
            var rule = trimmer.Rule(new[] { "s" });
            Assert.NotNull(rule.Cost);
            if (!rule.DraftsServerTrees(work, 1)) continue;
            Assert.Null(rule.ServerDraft);
            drafted++;
            trimmer.ObserveServerDraftPass(1, 50);
            trimmer.ObserveServerDraft(8, new VerdictMessage(f, new[] { 1, 2 }, false));
        }
        Assert.Equal(2, drafted);
    }

    [Fact]
    public void TheVerifier_DraftsServerTrees_OnlyWhereItPays()
    {
        var line = new ForwardCostModel.Line(10, 0.5, 0.1, 0.2);
        var none = new Dictionary<string, double[]?>();
        var one = new TargetWork[] { Plain() };
        // Nothing known yet (no cost line, no ledger, trees whole or forced): the server drafts, as before, and learns.
        Assert.True(TrimRule.None.DraftsServerTrees(one, 1));
        Assert.True(new TrimRule(line, none, null).DraftsServerTrees(one, 1));
        Assert.True(new TrimRule(null, none, 4) { ServerDraft = GoodDraft }.DraftsServerTrees(one, 1));
        // Known: beside one sequence a good draft pays; beside sixteen that stepped lately it does not; a draft never
        // accepted never does; and there is nothing to decide without a server-drafted step.
        var rule = new TrimRule(line, none, null) { ServerDraft = GoodDraft };
        Assert.True(rule.DraftsServerTrees(one, 1));
        Assert.False((rule with { ActiveSequences = 16 }).DraftsServerTrees(one, 1));
        // Beside sixteen, drafting sixteen trees together at 6 ms a pass and 0.125 ms a tree pays.
        Assert.True((rule with { ActiveSequences = 16, ServerDraft = new ServerDraftCost(4, 0.125, 8, 6) }).DraftsServerTrees(Enumerable.Repeat<TargetWork>(Plain(), 16).ToList(), 16));
        Assert.False((rule with { ServerDraft = GoodDraft with { TokensPerStep = 1 } }).DraftsServerTrees(one, 1));
        Assert.False(rule.DraftsServerTrees(one, 0));
    }

    private DecodeWork Plain() => new(_sequences.New());

    public void Dispose() => _sequences.Dispose();
}
