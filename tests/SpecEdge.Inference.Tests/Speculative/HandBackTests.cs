using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using SpecEdge.Protocol;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Hand-backs: after a tree cut to its root, plain steps decoded by the verifier alone, whose tokens reach the drafter
/// with the verdict. The policy's run lengths, and the drafter fed such verdicts: the output stays the target's (greedy
/// and seeded sampling), the drafter's step follows the verifier's, and its draft cache never holds the next root.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class HandBackTests
{
    private const int Capacity = 256;

    [Fact]
    public void TheFirstStepWhereTheServerPays_RunsOneStep_TheNextInARowTheMaximum_AndAnyOtherVerdictStartsAgain()
    {
        var policy = new HandBackPolicy(maxSteps: 10);
        Assert.Equal(new[] { 1, 10, 10, 10, 10 }, Enumerable.Range(0, 5).Select(_ => policy.StepsAfter(true)).ToArray());
        Assert.Equal(0, policy.StepsAfter(false));      // the edge loop paid: speculation resumes at once
        Assert.Equal(1, policy.StepsAfter(true));
        Assert.Equal(10, policy.StepsAfter(true));
        policy.Reset();                                  // a new reply: its first tokens are not held back by a long run
        Assert.Equal(1, policy.StepsAfter(true));
        Assert.Equal(10, policy.StepsAfter(true));
        var off = new HandBackPolicy(0);
        Assert.All(Enumerable.Range(0, 4), _ => Assert.Equal(0, off.StepsAfter(true)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new HandBackPolicy(-1));
    }

    [Fact]
    public void ALongRootCutStreak_NeverOverflowsTheRun()
    {
        var policy = new HandBackPolicy(1024);
        int last = 0;
        for (int i = 0; i < 100; i++) last = policy.StepsAfter(true);
        Assert.Equal(1024, last);
    }

    [Fact]
    public void UnderLoad_TheServerPays_ForTreesCutToTheirRoot_AndOnlyForThem()
    {
        // Two trees, one with nodes worth keeping (a chain accepted 90 %, 81 %, ...), one worth nothing; no wait.
        var good = new[] { 0, 0.9, 1.71, 2.44, 3.1 };
        var poor = new[] { 0, 0.01, 0.02, 0.03, 0.04 };
        var cumulative = new List<double[]> { good, poor };
        var keep = GoodputCut.Best(cumulative, 2, baseCost: 10, maskCost: 0, pricePerNode: 0.5);
        Assert.True(keep[0] > 0);
        Assert.Equal(0, keep[1]);
        Assert.Equal(new[] { false, true }, GoodputCut.ServerDecodingPays(cumulative, keep, 10, 0, 0.5));
        // Every tree cut to its root: plain decoding on the server is what the forward is, without the edge's loop.
        Assert.Equal(new[] { true, true }, GoodputCut.ServerDecodingPays(cumulative, new[] { 0, 0 }, 10, 0, 0.5));
    }

    [Theory]
    [InlineData(1.0, 30.0, true)]     // a 1 ms forward behind a 30 ms turnaround: plain steps on the server are 10x faster
    [InlineData(20.0, 14.0, false)]   // a 20 ms forward: the edge's 3 tokens per 14 + 22 ms beat one token per 20 ms
    public void WhileTheDeviceHasTimeToSpare_TheServerPaysWhenTheTurnaroundCostsMoreThanTheNodesBring(double forwardMs, double waitMs, bool serverPays)
    {
        var cumulative = new List<double[]> { new[] { 0, 0.9, 1.6, 2.0, 2.2 } };
        var keep = GoodputCut.Best(cumulative, 1, forwardMs, maskCost: 0.2, pricePerNode: 0.5, wait: waitMs);
        Assert.Equal(4, keep[0]);         // with the wait priced, every node pays for the edge's own step
        Assert.Equal(serverPays, GoodputCut.ServerDecodingPays(cumulative, keep, forwardMs, 0.2, 0.5, waitMs)[0]);
    }

    [Fact]
    public void ADeviceBusyWithSmallForwards_IsNotSaturated_TheTurnaroundStillCountsAgainstTheEdge()
    {
        // Forwards of a few sequences back to back (never idle) on a device whose forward hardly grows with them: 10 ms
        // whatever their number. An edge tree bringing 2 tokens behind a 40 ms turnaround commits 2 per 50 ms; plain steps
        // on the server 1 per 10 ms. Discounting the turnaround by the idle share (0 here) saw 2 tokens per 10.4 ms.
        var cumulative = new List<double[]> { new[] { 0, 0.5, 0.8, 0.95, 1.0 } };
        int[] keep = { 4 };
        double price = GoodputCut.DevicePrice(expected: 2 + 1.0, forwardMs: 10.4, idleShare: 0);
        Assert.Equal(3 / 10.4, price, 9);
        Assert.True(GoodputCut.ServerDecodingPays(cumulative, keep, 10, 0.2, 0.05, turnaround: 40, perSequenceMs: 0.01, devicePrice: price)[0]);
        Assert.False(GoodputCut.ServerDecodingPays(cumulative, keep, 10, 0.2, 0.05, turnaround: 0, perSequenceMs: 0.01, devicePrice: price)[0],
            "without the turnaround the edge's tree is worth its nodes");
    }

    [Theory]
    [InlineData(1.0, true)]    // 2 nodes bring 1 token but cost 1.8 ms at 1 token a ms: plain steps win
    [InlineData(2.0, false)]   // 2 nodes bring 2 tokens for 1.8 ms: the tree adds more than it takes, beside a short turnaround
    public void OnASaturatedDevice_AStepIsWorthWhatItAddsBeyondItsDeviceTime(double twoNodesBring, bool serverPays)
    {
        // 100 sequences in a 100 ms forward (10 fixed, 0.9 a sequence), 0.9 ms a node: compute-bound, never idle.
        var cumulative = new List<double[]> { new[] { 0, twoNodesBring / 2, twoNodesBring } };
        int[] keep = { 2 };
        double price = GoodputCut.DevicePrice(100 + twoNodesBring, 100 + 1.8, idleShare: 0);
        Assert.Equal(serverPays, GoodputCut.ServerDecodingPays(cumulative, keep, 100, 0, 0.9, turnaround: 5, perSequenceMs: 0.9, devicePrice: price)[0]);
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.125, 0.5)]
    [InlineData(0.25, 0.0)]
    [InlineData(0.9, 0.0)]
    public void TheDevicesPrice_IsItsGoodput_WhenNeverIdle_AndNothing_WithTimeToSpare(double idleShare, double shareOfGoodput)
    {
        Assert.Equal(shareOfGoodput * 12 / 16.0, GoodputCut.DevicePrice(12, 16, idleShare), 9);
        Assert.Equal(0, GoodputCut.DevicePrice(12, 0, idleShare));
        // One sequence alone: the time its step saves goes to nobody.
        Assert.Equal(0, GoodputCut.DevicePrice(12, 16, idleShare, sequences: 1));
        Assert.Equal(shareOfGoodput * 12 / 16.0, GoodputCut.DevicePrice(12, 16, idleShare, sequences: 2), 9);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void VerdictsCarryingServerSteps_KeepTheTargetsOutput_AndTheDrafterInStep(bool sampled)
    {
        var (target, draft) = Pair("qwen3", DraftKind.SameAsTarget);
        using var __ = target;
        using var ___ = draft;
        var stop = new StopCriteria(Array.Empty<int>(), 40);
        var sampling = sampled ? new SamplingParams(0.8, TopK: 20) : SamplingParams.Greedy;
        var requests = Requests(target.Config.VocabSize, sampling, randomSeed: 17, seedBase: 5, promptBase: 6, promptStep: 3, stop);
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), requests, Capacity);
        var verifier = new TargetVerifier(target);
        // Every other stretch of steps cut to the root, so runs of server steps alternate with verified trees.
        var rootOnly = new TrimRule(null, new Dictionary<string, double[]?>(), 0);
        var twoNodes = new TrimRule(null, new Dictionary<string, double[]?>(), 2);
        var options = new DraftTreeOptions { Budget = 12, GreedyVerification = !sampled, Proactive = true };
        int serverSteps = 0;
        for (int r = 0; r < requests.Length; r++)
        {
            var policy = new HandBackPolicy(maxSteps: 6);
            using var sequence = verifier.Start(requests[r].Prompt, requests[r].Sampling, stop, Capacity);
            using var drafter = new TreeDrafter(draft, requests[r].Prompt, options, Capacity + options.DraftCacheHeadroom) { ContextLimit = Capacity };
            for (int edgeStep = 0; !sequence.Finished; edgeStep++)
            {
                var tree = drafter.BuildTree();
                drafter.PreDraft();
                var rule = edgeStep % 6 < 4 ? rootOnly : twoNodes;
                var (ran, verified) = rule.Apply([("s", new VerifyWork(sequence, tree))]);
                var verdict = verifier.Execute(ran)[0].VerdictOrThrow();
                // What the session does: plain steps on the verifier, their tokens after the verdict's own.
                int run = verdict.Finished ? 0 : policy.StepsAfter(verified[0] == 0);
                var tokens = verdict.AcceptedTokens.ToList();
                var last = verdict;
                int done = 0;
                while (done < run && !last.Finished)
                {
                    last = verifier.Execute([new DecodeWork(sequence)])[0].VerdictOrThrow();
                    tokens.AddRange(last.AcceptedTokens);
                    done++;
                }
                serverSteps += done;
                drafter.Complete(new VerdictMessage(verdict.Step, tokens.ToArray(), last.Finished, null, done), new VerifierLoad(1, 0, 0, 0, verified[0]));
                Assert.Equal(sequence.Step, drafter.Step);
                Assert.True(drafter.Cache.PrefixLength <= drafter.Committed.Count - 1, $"prefix {drafter.Cache.PrefixLength} of {drafter.Committed.Count} committed");
                Assert.Equal(sequence.Committed, drafter.Committed);
            }
            Assert.Equal(expected[r].Tokens, sequence.Committed.Skip(requests[r].Prompt.Length).ToArray());
        }
        Assert.True(serverSteps > 20, $"only {serverSteps} server steps: the hand-backs were not exercised");
    }
}
