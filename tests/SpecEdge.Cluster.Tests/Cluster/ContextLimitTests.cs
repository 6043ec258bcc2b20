using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Sessions;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A reply that reaches the silo's MaxContextTokens ends there, cleanly, with the ContextFull reason: on the server path
/// and on the edge path (whose trees must shrink to the room left), with the target's greedy tokens up to the cut.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class ContextLimitTests(ClusterFixture f)
{
    internal const int Context = 512;          // the fixture's MaxContextTokens
    private const int Room = 21;               // tokens left for the reply: a few steps, the last one cut short
    internal static readonly TimeSpan Patience = TimeSpan.FromSeconds(120);
    internal static readonly GenerationSettings Raw = SessionTestHelpers.Greedy(100) with { UseChatTemplate = false };

    [Fact]
    public async Task ServerReply_ThatFillsTheContext_EndsThere_WithTheGreedyTokens()
    {
        var session = await ServerReplyFillsTheContextAsync(f, "test/context-full-server");
        Assert.False((await session.GetAsync()).Generating);

        // The conversation is full: a further message is refused, and says why.
        var e = await Assert.ThrowsAnyAsync<Exception>(() => session.SendUserMessageAsync("and then?"));
        Assert.Contains("MaxContextTokens", e.Message);
    }

    /// <summary>
    /// A server-decoded reply (plain, or drafted by the server: see the fixtures of the callers) to a prompt that leaves
    /// a few tokens of room: it must end there, finish reason ContextFull, with exactly the greedy tokens.
    /// </summary>
    internal static async Task<ISessionGrain> ServerReplyFillsTheContextAsync(ClusterFixture f, string sessionId)
    {
        var (text, prompt, expected) = PromptThatFillsTheContext(f);
        var session = f.Client.GetGrain<ISessionGrain>(sessionId);
        await session.ConfigureAsync(Raw);
        var turn = await session.SendUserMessageAsync(text);
        Assert.Equal(prompt, turn.AppendedTokens);

        var (reply, reason) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(Patience);
        Assert.Equal(ReplyFinish.ContextFull, reason);
        Assert.Equal(expected, reply);
        Assert.Equal(Context, (await session.GetAsync()).CommittedTokens);
        return session;
    }

    [Theory]
    [InlineData(false, 48)]   // a budget above the verifier's MaxTreeNodes (40): the edge must trim to it
    [InlineData(true, 12)]    // proactive: the carried pre-drafted subtree must fit the room as well
    public async Task EdgeReply_ThatFillsTheContext_ShrinksItsTrees_AndEndsThere(bool proactive, int budget)
    {
        var (text, _, expected) = PromptThatFillsTheContext(f);
        string id = $"test/context-full-edge-{proactive}";
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(Raw);
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id,
            new DraftTreeOptions { Budget = budget, MaxDepth = 4, MaxBeams = 8, BranchWidth = 4, Proactive = proactive }, capacity: 600);
        var attachment = await edge.AttachAsync();
        Assert.Equal(40, attachment.MaxTreeNodes);
        Assert.Equal(Context, attachment.MaxContextTokens);

        await edge.SendAsync(text);
        int replyStart = edge.ReplyStart;
        var stats = await edge.RunReplyAsync().WaitAsync(Patience);
        Assert.Equal(expected, edge.Committed.Skip(replyStart).ToArray());
        Assert.True(stats.TokensPerStep > 1, "a perfect draft must still be accepted deeply near the end of the context");

        var (reply, reason) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(Patience);
        Assert.Equal(ReplyFinish.ContextFull, reason);
        Assert.Equal(expected, reply);
        Assert.Equal(Context, (await session.GetAsync()).CommittedTokens);
        await edge.DetachAsync();
    }

    /// <summary>
    /// Plain text whose tokens leave <see cref="Room"/> tokens of the context, and the target's greedy reply to it,
    /// which must run into the end of the context (not end earlier on an end-of-sequence token) for the test to mean anything.
    /// </summary>
    internal static (string Text, int[] Prompt, int[] Expected) PromptThatFillsTheContext(ClusterFixture f)
    {
        var words = string.Join(' ', SessionTestHelpers.Prompts).Split(' ');
        for (int shift = 0; shift < words.Length; shift++)
        {
            string text = "";
            int[] prompt = Array.Empty<int>();
            for (int i = shift; ; i++)
            {
                string longer = (text.Length == 0 ? "" : text + " ") + words[i % words.Length];
                var tokens = TurnFormatter.Tokens(f.Models.Tokenizer, f.Models.ChatFormat, Array.Empty<int>(), Raw, longer);
                if (tokens.Length > Context - Room) break;
                (text, prompt) = (longer, tokens);
            }
            var expected = f.ReferenceGreedy(prompt, Raw.MaxNewTokens);
            if (expected.Length == Context - prompt.Length) return (text, prompt, expected);
        }
        throw new InvalidOperationException("every candidate prompt's greedy reply ended before the end of the context");
    }
}
