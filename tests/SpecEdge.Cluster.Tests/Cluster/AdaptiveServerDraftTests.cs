using SpecEdge.Contracts;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Adaptive server-drafted trees: a perfect draft drives them deep (up to depth 8, within MaxTreeNodes), yet near the end
/// of the context they shrink to the room left, and every reply is the target's greedy decoding.
/// </summary>
[Trait("Kind", "cluster")]
public class AdaptiveServerDraftTests(AdaptiveServerDraftClusterFixture f) : IClassFixture<AdaptiveServerDraftClusterFixture>
{
    [Fact]
    public async Task AdaptiveServerDraftedReply_IsTheTargetsGreedyOutput()
    {
        var session = f.Client.GetGrain<ISessionGrain>("test/adaptive-server-draft");
        await session.ConfigureAsync(SessionTestHelpers.Greedy(40));
        await session.ChatAsync(SessionTestHelpers.Prompts[0]);
        var (tokens, _) = await SessionTestHelpers.StreamedReplyAsync(session);
        // An edge attachment is the public way to read all committed tokens.
        var observer = f.Client.CreateObjectReference<IEdgeObserver>(new NullEdgeObserver());
        var attachment = await session.AttachEdgeAsync("reader", observer);
        await session.DetachEdgeAsync("reader");
        int promptLength = attachment.Committed.Length - tokens.Length;
        Assert.Equal(tokens, attachment.Committed[promptLength..]);
        Assert.Equal(f.ReferenceGreedy(attachment.Committed[..promptLength], 40), tokens);
    }

    [Fact]
    public Task AdaptiveServerDraftedReply_ThatFillsTheContext_EndsThere_WithTheGreedyTokens() =>
        ContextLimitTests.ServerReplyFillsTheContextAsync(f, "test/context-full-adaptive-server-draft");
}
