using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// An edge's proactive bet under a verifier that trims its trees: the bet stays inside what the verifier verified last
/// time, a verdict whose bonus equals a sent but unverified node is judged as the outcome it is (the bonus is never
/// walked as a node, so its draft KV is not committed as the bonus's), the draft cache keeps only committed tokens
/// before the next root, and the output stays the target's.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class TrimmedBetTests
{
    private const int Capacity = 256;

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void UnderATrimmingVerifier_ProactiveBetsWin_AndTheDraftCacheHoldsOnlyCommittedTokens(int verifiedNodes)
    {
        var (target, draft) = Pair("qwen3", DraftKind.SameAsTarget);
        using var __ = target;
        using var ___ = draft;
        var stop = new StopCriteria(Array.Empty<int>(), 40);
        var requests = Requests(target.Config.VocabSize, SamplingParams.Greedy, randomSeed: 31, seedBase: 0, promptBase: 6, promptStep: 3, stop);
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), requests, Capacity);
        var verifier = new TargetVerifier(target);
        var rule = new TrimRule(null, new Dictionary<string, double[]?>(), verifiedNodes);
        var options = new DraftTreeOptions { Budget = 16, GreedyVerification = true };
        int hits = 0, bets = 0;
        for (int r = 0; r < requests.Length; r++)
        {
            using var sequence = verifier.Start(requests[r].Prompt, requests[r].Sampling, stop, Capacity);
            using var drafter = new TreeDrafter(draft, requests[r].Prompt, options, Capacity + options.DraftCacheHeadroom) { ContextLimit = Capacity };
            while (!sequence.Finished)
            {
                var tree = drafter.BuildTree();
                drafter.PreDraft();
                var (ran, verified) = rule.Apply([("s", new VerifyWork(sequence, tree))]);
                var verdict = verifier.Execute(ran)[0].VerdictOrThrow();
                drafter.Complete(verdict, new VerifierLoad(1, 0, 0, 0, verified[0]));
                // The newest committed token is the next tree's root: it is never in the draft cache's prefix.
                Assert.True(drafter.Cache.PrefixLength <= drafter.Committed.Count - 1, $"prefix {drafter.Cache.PrefixLength} of {drafter.Committed.Count} committed");
            }
            Assert.Equal(expected[r].Tokens, sequence.Committed.Skip(requests[r].Prompt.Length).ToArray());
            hits += drafter.ProactiveHits;
            bets += drafter.ProactiveHits + drafter.ProactiveMisses;
        }
        // The target's own weights as draft: its greedy chain is accepted as far as the verifier verifies it, so a bet at the
        // chain's end inside the verified nodes wins nearly always. Betting past the cut, or losing the bonus to the walk, never did.
        Assert.True(hits * 5 >= bets * 4, $"proactive bets won {hits} of {bets} under a verifier keeping {verifiedNodes} nodes");
    }
}
