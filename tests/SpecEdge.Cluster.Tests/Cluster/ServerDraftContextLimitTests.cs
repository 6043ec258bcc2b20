using SpecEdge.Contracts;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>With a server draft, the server's own trees shrink to the room left and the reply ends ContextFull.</summary>
[Trait("Kind", "cluster")]
public class ServerDraftContextLimitTests(ServerDraftClusterFixture f) : IClassFixture<ServerDraftClusterFixture>
{
    [Fact]
    public Task ServerDraftedReply_ThatFillsTheContext_EndsThere_WithTheGreedyTokens() =>
        ContextLimitTests.ServerReplyFillsTheContextAsync(f, "test/context-full-server-draft");
}
