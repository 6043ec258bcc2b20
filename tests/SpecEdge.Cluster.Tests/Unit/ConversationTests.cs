using SpecEdge.Contracts;
using SpecEdge.Grains.Sessions;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The conversation's transitions on their own: what a verdict commits, and that a rollback restores exactly what was there.</summary>
[Trait("Kind", "unit")]
public class ConversationTests
{
    private static Conversation Started(out int[] prompt)
    {
        var conversation = new Conversation(new SessionState());
        prompt = [10, 11, 12];
        conversation.StartTurn(new GenerationSettings { Seed = 5 }, "service:t", "t", [], new ChatTurn("user", "hello"), prompt);
        return conversation;
    }

    [Fact]
    public void AStartedTurn_IsGenerating_FromTheEndOfItsPrompt()
    {
        var c = Started(out var prompt);
        Assert.True(c.State.Generating);
        Assert.Equal(prompt, c.State.Committed);
        Assert.Equal(prompt.Length, c.State.ReplyStart);
        Assert.Equal("user", Assert.Single(c.State.Messages).Role);
        Assert.Equal("service:t", c.State.SeedOwner);
    }

    [Fact]
    public void Verdicts_CommitChunks_AndAFinishingOneEndsTheReplyWithItsText()
    {
        var c = Started(out _);
        c.ApplyVerdict(new StepVerdict("t/c", 0, [1, 2], false, null), () => "unused");
        c.ApplyVerdict(new StepVerdict("t/c", 1, [3], true, ReplyFinish.MaxTokens), () => "one two three");
        Assert.False(c.State.Generating);
        Assert.Equal(2, c.State.Step);
        Assert.Equal(new[] { 2, 1 }, c.State.ReplyChunkSizes);
        Assert.Equal(new ChatTurn("assistant", "one two three"), c.State.Messages[^1]);
        Assert.Equal(ReplyFinish.MaxTokens, PersistedFinish.Read(c.State.ReplyFinish).Reason);
        Assert.Throws<ArgumentException>(() => c.ApplyVerdict(new StepVerdict("t/c", 7, [4], false, null), () => ""));
    }

    [Fact]
    public void RollingBack_ToBeforeAStep_RestoresExactlyTheStateBeforeIt_WithEveryLaterStepGone()
    {
        var c = Started(out _);
        c.ApplyVerdict(new StepVerdict("t/c", 0, [1, 2], false, null), () => "");
        string before = System.Text.Json.JsonSerializer.Serialize(c.State);
        var back = c.ApplyVerdict(new StepVerdict("t/c", 1, [3, 4], false, null), () => "");
        c.ApplyVerdict(new StepVerdict("t/c", 2, [5], true, ReplyFinish.EndOfSequence), () => "done");

        c.RollBack(back);
        Assert.Equal(before, System.Text.Json.JsonSerializer.Serialize(c.State));
    }

    [Fact]
    public void AFailedReply_EndsWithAnEmptyChunkAndTheError()
    {
        var c = Started(out _);
        c.FailReply("storage down");
        Assert.False(c.State.Generating);
        Assert.Equal(0, c.State.ReplyChunkSizes[^1]);
        var finish = PersistedFinish.Read(c.State.ReplyFinish);
        Assert.Equal(ReplyFinish.Error, finish.Reason);
        Assert.Equal("storage down", finish.Error);
    }

    [Fact]
    public void ATree_IsCheckedAgainstTheConversation_BeforeTheVerifierSeesIt()
    {
        var c = Started(out var prompt);
        var tree = new TreeSubmission("t/c", "edge-1", 0, prompt.Length, [12, 5], [-1, 0]);
        Assert.Contains("not attached", c.CheckTree(tree, "t/c", 8, 100));
        c.Attach("edge-1");
        Assert.Null(c.CheckTree(tree, "t/c", 8, 100));
        Assert.Contains("step 3", c.CheckTree(tree with { Step = 3 }, "t/c", 8, 100));
        Assert.Contains("addressed to session", c.CheckTree(tree, "t/other", 8, 100));
        Assert.Contains("limit is 0", c.CheckTree(tree, "t/c", 0, 100));
        // Every rule of a tree is the session's to check now: the verifier only checks its copy is at the same step.
        Assert.Contains("root must be the last committed token 12", c.CheckTree(tree with { Tokens = [11, 5] }, "t/c", 8, 100));
        Assert.Contains("outside the vocabulary [0, 5)", c.CheckTree(tree, "t/c", 8, 5));
        Assert.Contains("parents must be earlier nodes", c.CheckTree(tree with { Tokens = [12, 5, 6], Parents = [-1, 2, 0] }, "t/c", 8, 100));
        Assert.Contains("repeats token 5", c.CheckTree(tree with { Tokens = [12, 5, 5], Parents = [-1, 0, 0] }, "t/c", 8, 100));
        Assert.Contains("2 tokens but 3 parents", c.CheckTree(tree with { Parents = [-1, 0, 1] }, "t/c", 8, 100));
    }

    [Fact]
    public void TheSessionAndASequence_ApplyTheSameTreeRules()
    {
        // One rule set (TreeRules) behind both: the session's check for edges' trees and TargetSequence.Validate for
        // trees drafted beside the target give the same verdict on the same tree, naming the same problem.
        var c = Started(out var prompt);
        c.Attach("edge-1");
        var trees = new (int[] Tokens, int[] Parents)[]
        {
            ([12, 5], [-1, 0]), ([11, 5], [-1, 0]), ([12, 500], [-1, 0]), ([12, 5, 6], [-1, 2, 0]), ([12, 5, 5], [-1, 0, 0]), ([12, 5], [-1, 0, 1]), ([12], [-1]),
        };
        foreach (var (tokens, parents) in trees)
        {
            string? session = c.CheckTree(new TreeSubmission("t/c", "edge-1", 0, prompt.Length, tokens, parents), "t/c", 8, 100);
            string? sequence = SpecEdge.Inference.Speculative.TreeRules.Check(0, prompt.Length, tokens, parents, null, 0, prompt, 8, 100, "the sequence");
            Assert.Equal(sequence is null, session is null);
            if (sequence is not null) Assert.Equal(sequence.Replace("the sequence", "session 't/c'"), session);
        }
    }
}
