using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// The edge's side of early exits: drafting the next tree ahead on an early verdict never changes an output token, with
/// a good head, a wrong head, proactive drafting on or off, and an early verdict that comes before its verdict, after it
/// (stale: ignored), or never. A head that is the final layer makes every early bet hit, so drafting ahead is really used.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class DraftAheadTests
{
    private const int Capacity = 256;
    private static readonly StopCriteria Stop = new(Array.Empty<int>(), 24);

    public enum Delivery { BeforeVerdict, AfterVerdict, Never }

    public static IEnumerable<object[]> Cases() =>
    [
        ["lens", 0.0, true, Delivery.BeforeVerdict], ["lens", 0.9, true, Delivery.BeforeVerdict],
        ["lens", 0.0, false, Delivery.BeforeVerdict], ["lens", 0.9, false, Delivery.BeforeVerdict],
        ["wrong", 0.0, true, Delivery.BeforeVerdict], ["wrong", 0.9, false, Delivery.BeforeVerdict],
        ["final", 0.0, false, Delivery.BeforeVerdict], ["final", 0.9, true, Delivery.BeforeVerdict],
        ["lens", 0.0, true, Delivery.AfterVerdict], ["lens", 0.9, true, Delivery.Never],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void OutputsStayTheTargets_WhenTheEdgeDraftsAheadOnEarlyVerdicts(string head, double temperature, bool proactive, Delivery delivery) =>
        Decode(head, temperature, proactive, delivery, roundsBeforeVerdict: int.MaxValue);

    /// <summary>
    /// The verdict arrives while the bets are being drafted: they stop after the round in progress, and a subtree of
    /// fewer rounds (none, one) still carries over on a hit, losslessly. The final-layer head makes every early bet hit.
    /// </summary>
    [Theory]
    [InlineData(0, 0.0)]
    [InlineData(1, 0.0)]
    [InlineData(1, 0.9)]
    public void BetsCutShortByTheVerdict_StayLossless(int roundsBeforeVerdict, double temperature) =>
        Decode("final", temperature, proactive: true, Delivery.BeforeVerdict, roundsBeforeVerdict);

    private static void Decode(string head, double temperature, bool proactive, Delivery delivery, int roundsBeforeVerdict)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        using var lens = EarlyExitHead.FromFinalLayer(target, 1);
        // An exit after the last layer ("final") is the final layer: its verdict is the verdict.
        using var exit = TestExitHead(head, target, lens);
        var sampling = temperature == 0 ? SamplingParams.Greedy : new SamplingParams(Temperature: temperature, TopP: 0.95);
        var requests = Requests(target.Config.VocabSize, sampling, randomSeed: 21, seedBase: 90, promptBase: 6, promptStep: 3, Stop);
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), requests, Capacity);

        EarlyVerdict? early = null;
        var verifier = new TargetVerifier(target) { ExitHead = exit, EarlyVerdicts = (_, v) => early = v };
        var options = new DraftTreeOptions { Budget = 8, Proactive = proactive, DraftAhead = true, GreedyVerification = sampling.IsGreedy };
        int hits = 0, misses = 0, steps = 0;
        for (int r = 0; r < requests.Length; r++)
        {
            using var sequence = verifier.Start(requests[r].Prompt, requests[r].Sampling, requests[r].Stop, Capacity);
            using var drafter = new TreeDrafter(draft, requests[r].Prompt, options, Capacity + options.DraftCacheHeadroom) { ContextLimit = Capacity };
            while (!sequence.Finished)
            {
                var tree = drafter.BuildTree();
                int rounds = 0;
                bool Arrived() => rounds++ >= roundsBeforeVerdict;
                drafter.PreDraft(Arrived);
                early = null;
                var verdict = verifier.Execute(new[] { new VerifyWork(sequence, tree) })[0].VerdictOrThrow();
                Assert.NotNull(early);
                Assert.Equal(tree.Step, early!.Step);
                // In one process the early verdict is in hand before the verdict is applied, which is what "before" means to the edge.
                rounds = 0;
                if (delivery == Delivery.BeforeVerdict) drafter.DraftAhead(early.Step, early.AcceptedTokens, Arrived);
                drafter.ApplyVerdict(verdict);
                if (delivery == Delivery.AfterVerdict) Assert.False(drafter.DraftAhead(early.Step, early.AcceptedTokens), "a stale early verdict was drafted on");
                steps++;
            }
            Assert.Equal(expected[r].Tokens, sequence.Committed.Skip(requests[r].Prompt.Length).ToArray());
            hits += drafter.EarlyHits;
            misses += drafter.EarlyMisses;
        }
        if (delivery != Delivery.BeforeVerdict) Assert.Equal(0, hits + misses);
        else
        {
            // Every step but a reply's last (finished: nothing to draft ahead for) had a bet.
            Assert.Equal(steps - requests.Length, hits + misses);
            if (head == "final") Assert.Equal(0, misses);
        }
    }

    [Fact]
    public void AnEarlyVerdictOffTheTree_OrASecondOne_ChangesNothing()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        var prompt = TestModels.RandomTokens(new Random(5), 8, target.Config.VocabSize);
        var options = new DraftTreeOptions { Budget = 8, Proactive = false, DraftAhead = true };
        using var drafter = new TreeDrafter(draft, prompt, options, Capacity + options.DraftCacheHeadroom);
        var tree = drafter.BuildTree();
        int pending = drafter.Cache.PendingCount;
        // A path whose first token is no child of the root, a bonus outside the vocabulary, another step: nothing drafted.
        int notAChild = Enumerable.Range(0, target.Config.VocabSize).First(t => !Enumerable.Range(1, tree.Tokens.Length - 1).Any(n => tree.Parents[n] == 0 && tree.Tokens[n] == t));
        Assert.False(drafter.DraftAhead(tree.Step, [notAChild, 3]));
        Assert.False(drafter.DraftAhead(tree.Step, [target.Config.VocabSize]));
        Assert.False(drafter.DraftAhead(tree.Step + 1, [3]));
        Assert.False(drafter.DraftAhead(tree.Step, []));
        Assert.Equal(pending, drafter.Cache.PendingCount);
        // A real one drafts; a second for the same step does not.
        Assert.True(drafter.DraftAhead(tree.Step, [3]));
        Assert.True(drafter.Cache.PendingCount > pending);
        Assert.False(drafter.DraftAhead(tree.Step, [4]));
    }
}
