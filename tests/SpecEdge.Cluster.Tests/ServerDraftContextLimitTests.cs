using SpecEdge.Contracts;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>With a server draft, the server's own trees shrink to the room left and the reply ends ContextFull.</summary>
public class ServerDraftContextLimitTests(ServerDraftClusterFixture f) : IClassFixture<ServerDraftClusterFixture>
{
    [Fact]
    public async Task ServerDraftedReply_ThatFillsTheContext_EndsThere_WithTheGreedyTokens()
    {
        var (text, prompt, expected) = ContextLimitTests.PromptThatFillsTheContext(f);
        var session = f.Client.GetGrain<ISessionGrain>("context-full-server-draft");
        await session.ConfigureAsync(ContextLimitTests.Raw);
        var turn = await session.SendUserMessageAsync(text);
        Assert.Equal(prompt, turn.AppendedTokens);

        var (reply, reason) = await SessionTestHelpers.StreamedReplyAsync(session).WaitAsync(ContextLimitTests.Patience);
        Assert.Equal(ReplyFinish.ContextFull, reason);
        Assert.Equal(expected, reply);
        Assert.Equal(ContextLimitTests.Context, (await session.GetAsync()).CommittedTokens);
    }
}
