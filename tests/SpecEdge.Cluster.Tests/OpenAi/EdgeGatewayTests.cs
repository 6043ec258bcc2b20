using Grpc.Core;
using Grpc.Net.Client;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.Gateway.V1;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;
using TurnStarted = SpecEdge.Contracts.TurnStarted;
using Tree = SpecEdge.Gateway.V1.Tree;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// The edge gateway of a real silo process: an edge drafts over gRPC (no Orleans connection) and the reply is the
/// target's greedy one, through a broken and reopened stream too; a credential reaches its own conversation only;
/// malformed, oversized and flooding messages are refused before any grain, and the stream or the next one goes on.
/// </summary>
[Collection(OpenAiCollection.Name)]
[Trait("Kind", "process")]
public sealed class EdgeGatewayTests(OpenAiSiloFixture f, ITestOutputHelper output) : IDisposable
{
    private readonly CausalLm _draft = CausalLm.Load(Path.Combine(ClusterFixture.RepoRoot(), "models", "demo", "draft"));

    public void Dispose() => _draft.Dispose();

    private static async Task<T> As<T>(string token, Func<Task<T>> call)
    {
        using (CallerCredential.Use(token)) return await call();
    }

    /// <summary>A greedy turn started by the conversation's service: the server decodes until an edge attaches.</summary>
    private async Task<(ISessionGrain Session, TurnStarted Turn, GenerationSettings Settings)> StartTurnAsync(string id, int prompt, int maxNewTokens)
    {
        var session = f.Client.GetGrain<ISessionGrain>(id);
        var settings = new GenerationSettings { Temperature = 0, MaxNewTokens = maxNewTokens, Seed = 0 };
        string service = f.ServiceKey(id.Split('/')[0]);
        await As(service, async () => { await session.ConfigureAsync(settings); return 0; });
        var turn = await As(service, () => session.SendUserMessageAsync(SessionTestHelpers.Prompts[prompt]));
        return (session, turn, settings);
    }

    [Fact]
    public async Task AnEdgeOverTheGateway_DraftsTheGreedyReply_EvenThroughABrokenAndReopenedStream()
    {
        const string id = "gw/reconnect";
        await using var link = new GatewayEdgeLink(f.EdgeGateway, f.EdgeKey(id, "edge-gw"), id);
        using var edge = new EdgeSession(link, _draft, id, "edge-gw", new DraftTreeOptions { Budget = 8, Proactive = true }, capacity: 2048);
        var (_, turn, settings) = await StartTurnAsync(id, prompt: 1, maxNewTokens: 160);

        var attachment = await edge.AttachAsync();
        Assert.Equal(id, attachment.SessionId);
        int steps = 0;
        var stats = await edge.RunReplyAsync(_ => { if (++steps == 3) link.Abort(); });   // the network drops mid-reply

        var reply = await f.SessionReplyTokensAsync(id);
        Assert.Equal(f.ReferenceReply(turn.AppendedTokens, settings), reply);
        Assert.True(stats.Steps >= 3, $"the edge drafted {stats.Steps} steps over the gateway");
        output.WriteLine($"{stats.Steps} steps, {stats.Tokens} tokens over the gateway; protocol bytes: {link.BytesSent} up, {link.BytesReceived} down " +
                         $"({(double)link.BytesSent / stats.Steps:F0} / {(double)link.BytesReceived / stats.Steps:F0} per step, attach included)");
    }

    [Fact]
    public async Task AnEdgeOverTheGateway_GetsEarlyVerdicts_AndDraftsAheadOnThem_WithoutChangingTheReply()
    {
        // The fixture's silo runs with SpecEdge:EarlyVerdicts on, with the demo target's shipped exit head.
        const string id = "gw/early";
        await using var link = new GatewayEdgeLink(f.EdgeGateway, f.EdgeKey(id, "edge-early"), id);
        using var edge = new EdgeSession(link, _draft, id, "edge-early", new DraftTreeOptions { Budget = 8, Proactive = true, DraftAhead = true }, capacity: 2048);
        var (_, turn, settings) = await StartTurnAsync(id, prompt: 2, maxNewTokens: 400);

        await edge.AttachAsync();
        var stats = await edge.RunReplyAsync();

        Assert.Equal(f.ReferenceReply(turn.AppendedTokens, settings), await f.SessionReplyTokensAsync(id));
        // At most one per tree. This silo trims trees by goodput (the default): a tree cut to its root is a plain step, with
        // no early verdict, so fewer may come.
        Assert.InRange(edge.EarlyVerdictsReceived, 1, stats.Steps);
        Assert.True(stats.EarlyHits + stats.EarlyMisses > 0, "no early verdict came before its verdict");
        output.WriteLine($"{stats.Steps} steps, {stats.Tokens} tokens; early verdicts {edge.EarlyVerdictsReceived}, drafted-ahead bets {stats.EarlyHits} hit / {stats.EarlyMisses} missed; proactive {stats.ProactiveHits} hit / {stats.ProactiveMisses} missed");
    }

    [Fact]
    public async Task ATurnItsServiceStarts_ReachesTheEdgeAttachedOverTheGateway()
    {
        // The session tells its attached edge about a turn someone else started; over the gateway that notification goes
        // to an observer in the silo's own hosted client, which once refused it for want of a credential (the edge then
        // learnt nothing and the server took the reply over when the lease ran out).
        const string id = "gw/notified";
        await using var link = new GatewayEdgeLink(f.EdgeGateway, f.EdgeKey(id, "edge-told"), id);
        var told = new TaskCompletionSource<TurnStarted>(TaskCreationOptions.RunContinuationsAsynchronously);
        link.TurnStarted += t => told.TrySetResult(t);
        await link.AttachAsync(TimeSpan.FromSeconds(30));
        var (_, turn, _) = await StartTurnAsync(id, prompt: 2, maxNewTokens: 8);
        var notified = await told.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(turn.AppendedTokens, notified.AppendedTokens);
        Assert.Equal(turn.Step, notified.Step);
        Assert.Equal(turn.CachedTokens, notified.CachedTokens);
        // The reply's first token, which the server decoded with the turn (SpecEdge:ServerFirstToken), crosses the gateway:
        // without it the edge would draft for a step the session has passed.
        Assert.Single(turn.FirstTokens!);
        Assert.Equal(turn.FirstTokens, notified.FirstTokens);
        Assert.Equal(turn.DraftStep, notified.DraftStep);
        Assert.Equal(turn.Finished, notified.Finished);
    }

    [Fact]
    public async Task ACredentialForA_CannotAttachToB_AndItsTreesNeverReachB()
    {
        const string a = "gw/edge-a", b = "gw/victim-b";
        var (victim, turnB, settings) = await StartTurnAsync(b, prompt: 2, maxNewTokens: 24);
        string tokenA = f.EdgeKey(a, "edge-a");

        // A's credential naming B in its attach: refused on the stream, which then still serves A.
        await using (var confused = new GatewayEdgeLink(f.EdgeGateway, tokenA, b))
        {
            var refused = await Assert.ThrowsAsync<GatewayRejectionException>(() => confused.AttachAsync(TimeSpan.FromSeconds(30)));
            Assert.Contains("another conversation", refused.Message);
        }
        await using (var own = new GatewayEdgeLink(f.EdgeGateway, tokenA, a))
        {
            var attached = await own.AttachAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(a, attached.SessionId);
            // A tree shaped for B's step goes to A (the credential's conversation) and is refused there.
            var snapshot = await victim.GetAsync();
            var tree = new TreeSubmission(b, "edge-b", snapshot.Step, snapshot.CommittedTokens, [1, 2], [-1, 0]);
            await Assert.ThrowsAsync<GatewayRejectionException>(() => own.SubmitAsync(tree, _ => Task.CompletedTask, TimeSpan.FromSeconds(30)));
        }

        // Not an edge credential, or none that verifies: the stream is refused before any message.
        foreach (var (what, token) in new[] { ("service", f.ServiceKey("gw")), ("garbage", "sk-not-a-credential"), ("another key", CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Edge, ConversationId = a, EdgeId = "e", ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, SigningKeySet.CreateRandom("k1"))) })
        {
            await using var link = new GatewayEdgeLink(f.EdgeGateway, token, a);
            var e = await Assert.ThrowsAsync<GatewayRejectionException>(() => link.AttachAsync(TimeSpan.FromSeconds(30)));
            Assert.True(e.Message.Contains("Unauthenticated"), $"{what}: {e.Message}");
        }

        Assert.Equal(f.ReferenceReply(turnB.AppendedTokens, settings), await ReplyWhenDoneAsync(victim, b));
    }

    [Fact]
    public async Task OversizedAndMalformedMessages_AreRefusedCleanly_AndHonestOnesAreServedAfterThem()
    {
        const string id = "gw/malformed";
        var (victim, turn, settings) = await StartTurnAsync(id, prompt: 3, maxNewTokens: 24);
        string token = f.EdgeKey(id, "edge-m");
        using var channel = GrpcChannel.ForAddress(f.EdgeGateway);
        var client = new EdgeGateway.EdgeGatewayClient(channel);
        var headers = new Metadata { { "authorization", "Bearer " + token } };

        using (var call = client.Converse(headers))
        {
            await call.RequestStream.WriteAsync(new EdgeMessage { Attach = new Attach { ConversationId = id } });
            Assert.NotNull((await NextAsync(call)).Attachment);
            var huge = new Tree { Step = 0, CommittedLength = 1 };
            huge.Tokens.Add(Enumerable.Repeat(5, 10_000));
            huge.Parents.Add(Enumerable.Range(-1, 10_000));
            await call.RequestStream.WriteAsync(new EdgeMessage { Tree = huge });
            Assert.Contains("at most", (await NextAsync(call)).Rejection.Error);
            var lopsided = new Tree { Step = 0, CommittedLength = 1 };
            lopsided.Tokens.Add([1, 2, 3]);
            lopsided.Parents.Add([-1]);
            await call.RequestStream.WriteAsync(new EdgeMessage { Tree = lopsided });
            Assert.Contains("parents", (await NextAsync(call)).Rejection.Error);
            await call.RequestStream.WriteAsync(new EdgeMessage());
            Assert.Contains("unknown", (await NextAsync(call)).Rejection.Error);
            // The stream is still healthy: an honest attach is answered.
            await call.RequestStream.WriteAsync(new EdgeMessage { Attach = new Attach { ConversationId = id } });
            Assert.NotNull((await NextAsync(call)).Attachment);
            await call.RequestStream.CompleteAsync();
        }

        // Bytes that are not a protobuf message, and a message past Gateway:MaxMessageBytes, end only their own stream.
        var raw = new Method<byte[], byte[]>(MethodType.DuplexStreaming, "specedge.gateway.v1.EdgeGateway", "Converse",
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        foreach (var bytes in new[] { new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x12 }, new byte[2 << 20] })
        {
            using var bad = channel.CreateCallInvoker().AsyncDuplexStreamingCall(raw, null, new CallOptions(headers));
            try { await bad.RequestStream.WriteAsync(bytes); } catch (RpcException) { }
            var e = await Assert.ThrowsAnyAsync<RpcException>(async () => { while (await bad.ResponseStream.MoveNext()) { } throw new RpcException(Status.DefaultSuccess); });
            output.WriteLine($"{bytes.Length} bad bytes: {e.StatusCode} {e.Status.Detail}");
            Assert.NotEqual(StatusCode.OK, e.StatusCode);
        }

        // The next stream of the same edge drafts as if nothing happened.
        await using var link = new GatewayEdgeLink(f.EdgeGateway, token, id);
        using var edge = new EdgeSession(link, _draft, id, "edge-m", new DraftTreeOptions { Budget = 8 }, capacity: 2048);
        await edge.AttachAsync();
        await edge.RunReplyAsync();
        Assert.Equal(f.ReferenceReply(turn.AppendedTokens, settings), await ReplyWhenDoneAsync(victim, id));
    }

    [Fact]
    public async Task AnEdgeWithTheChatRight_ReadsTheReplyStream_WhileOneWithoutIsRefused()
    {
        const string id = "gw/stream";
        var (session, turn, settings) = await StartTurnAsync(id, prompt: 4, maxNewTokens: 20);

        await using (var mute = new GatewayEdgeLink(f.EdgeGateway, f.EdgeKey(id, "edge-mute"), id))
        {
            var refused = await Assert.ThrowsAsync<GatewayRejectionException>(async () => { await foreach (var _ in mute.StreamReplyAsync(0)) { } });
            Assert.Equal(RefusalKind.AccessDenied, refused.Kind);
        }

        string chat = f.Issue(new AccessCredential { Role = CredentialRole.Edge, Tenant = "gw", ConversationId = id, EdgeId = "edge-chat", Chat = true });
        await using var link = new GatewayEdgeLink(f.EdgeGateway, chat, id);
        var chunks = new List<SpecEdge.Contracts.ReplyChunk>();
        await foreach (var chunk in link.StreamReplyAsync(0)) chunks.Add(chunk);

        // Every chunk in order, the last one final, and together exactly the target's greedy reply.
        Assert.Equal(Enumerable.Range(0, chunks.Count), chunks.Select(c => c.Index));
        Assert.True(chunks[^1].Final);
        Assert.Equal(f.ReferenceReply(turn.AppendedTokens, settings), chunks.SelectMany(c => c.Tokens).ToArray());
        Assert.Equal(await ReplyWhenDoneAsync(session, id), chunks.SelectMany(c => c.Tokens).ToArray());
    }

    [Fact]
    public async Task AFloodOfMessages_IsCutByTheEdgesRate_RefusedOnesIncluded()
    {
        const string id = "gw/flood";
        using var channel = GrpcChannel.ForAddress(f.EdgeGateway);
        using var call = new EdgeGateway.EdgeGatewayClient(channel).Converse(new Metadata { { "authorization", "Bearer " + f.EdgeKey(id, "edge-f") } });
        const int sent = 3000;
        var writing = Task.Run(async () =>
        {
            // Trees before any attach: each one is refused, and each one costs the edge its rate.
            for (int i = 0; i < sent; i++) await call.RequestStream.WriteAsync(new EdgeMessage { Tree = new Tree { Step = i } });
            await call.RequestStream.CompleteAsync();
        });
        int limited = 0, refused = 0;
        while (await call.ResponseStream.MoveNext())
        {
            if (call.ResponseStream.Current.Rejection?.Error is not { } error) continue;
            if (error.Contains("Too many messages")) limited++; else refused++;
        }
        await writing;
        output.WriteLine($"{sent} messages: {refused} refused by their content, {limited} cut by the rate");
        Assert.Equal(sent, limited + refused);
        Assert.True(limited > 0, "messages past the edge's burst must be cut by its rate");
        Assert.True(refused >= 1000, $"the burst is judged on its content; {refused} were");
    }

    private static async Task<ServerMessage> NextAsync(AsyncDuplexStreamingCall<EdgeMessage, ServerMessage> call)
    {
        Assert.True(await call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(30)), "the stream ended");
        return call.ResponseStream.Current;
    }

    private async Task<int[]> ReplyWhenDoneAsync(ISessionGrain session, string id)
    {
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while ((await session.GetAsync()).Generating)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the reply of {id} did not finish");
            await Task.Delay(100);
        }
        return await f.SessionReplyTokensAsync(id);
    }
}
