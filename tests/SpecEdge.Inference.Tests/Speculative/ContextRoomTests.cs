using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>The end of the context is a stop condition: decoding ends there cleanly, on every path, at the same token.</summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class ContextRoomTests
{
    [Fact]
    public void Cut_StopsAtTheContextRoom_AfterTheUsersOwnLimits()
    {
        var stop = new StopCriteria(new[] { 9 }, MaxNewTokens: 100);
        Assert.Equal((2, FinishReason.ContextFull), stop.Cut(Array.Empty<int>(), new[] { 1, 2, 3, 4 }, contextRoom: 2));
        Assert.Equal((3, FinishReason.ContextFull), stop.Cut(new[] { 5 }, new[] { 1, 2, 3 }, contextRoom: 3));
        Assert.Equal((2, FinishReason.EndOfSequence), stop.Cut(Array.Empty<int>(), new[] { 1, 9, 3 }, contextRoom: 2));
        Assert.Equal((0, FinishReason.ContextFull), stop.Cut(Array.Empty<int>(), new[] { 1 }, contextRoom: 0));
        Assert.Equal((2, FinishReason.MaxTokens), new StopCriteria(Array.Empty<int>(), 2).Cut(Array.Empty<int>(), new[] { 1, 2, 3 }, contextRoom: 2));
        Assert.Equal((3, FinishReason.None), stop.Cut(Array.Empty<int>(), new[] { 1, 2, 3 }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReplyThatFillsTheCache_EndsWithContextFull_IdenticallyWithAndWithoutSpeculation(bool proactive)
    {
        const int capacity = 48;
        var (target, draft) = Pair("qwen3", DraftKind.SameAsTarget);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var requests = new[] { 30, 40, 46 }.Select(n => new GenerationRequest(
            TestModels.RandomTokens(new Random(n), n, target.Config.VocabSize), SamplingParams.Greedy,
            new StopCriteria(Array.Empty<int>(), MaxNewTokens: 100))).ToArray();

        var plain = AutoregressiveDecoder.Generate(verifier, requests, capacity);
        var speculative = SpeculativeDecoder.Generate(verifier, draft, requests,
            new DraftTreeOptions { Budget = 16, MaxDepth = 5, MaxBeams = 8, BranchWidth = 4, Proactive = proactive }, capacity);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(FinishReason.ContextFull, plain[i].Finish);
            Assert.Equal(capacity - requests[i].Prompt.Length, plain[i].Tokens.Length);
            Assert.Equal(plain[i].Tokens, speculative[i].Tokens);
            Assert.Equal(FinishReason.ContextFull, speculative[i].Finish);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void DraftTrees_NeverHoldMoreNodesThanTheContextHasRoomFor(bool proactive)
    {
        var (target, draft) = Pair("qwen3", DraftKind.SameAsTarget);
        using var _ = target;
        using var __ = draft;
        var prompt = TestModels.RandomTokens(new Random(8), 20, target.Config.VocabSize);
        var options = new DraftTreeOptions { Budget = 16, MaxDepth = 5, MaxBeams = 8, BranchWidth = 4, Proactive = proactive };
        const int limit = 44;   // room for 24 tokens after the 20-token prompt: a full tree first, then shrinking ones
        using var drafter = new TreeDrafter(draft, prompt, options, limit + options.DraftCacheHeadroom) { ContextLimit = limit };
        var sizes = new List<int>();
        while (drafter.Committed.Count < limit)
        {
            var tree = drafter.BuildTree();
            int room = limit - drafter.Committed.Count;
            Assert.True(tree.Tokens.Length - 1 <= room, $"a tree of {tree.Tokens.Length - 1} nodes with room for {room}");
            sizes.Add(tree.Tokens.Length - 1);
            drafter.PreDraft();
            // Accept the first two drafted tokens of the chain from the root (as a verifier might), capped by the room.
            var accepted = tree.Tokens.Skip(1).Take(Math.Min(2, room)).ToArray();
            if (accepted.Length == 0) accepted = new[] { 1 };
            drafter.ApplyVerdict(new VerdictMessage(tree.Step, accepted, Finished: drafter.Committed.Count + accepted.Length >= limit));
        }
        Assert.Equal(16, sizes[0]);        // far from the end the full budget is drafted
        Assert.True(sizes[^1] < 16, $"the last tree must have shrunk (sizes {string.Join(",", sizes)})");
    }

    [Fact]
    public void InfiniteTemperature_IsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new SamplingParams(double.PositiveInfinity).Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new SamplingParams(double.NaN).Validate());
    }
}
