using System.Threading.Channels;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Gateway.V1;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.OpenAi;

namespace SpecEdge.Silo.Gateway;

/// <summary>
/// The edge gateway: an edge's one stream per conversation, served inside the silo, which calls the session grain
/// under the edge's credential exactly as the HTTP API calls it under a service's. In order, before any grain is touched:
/// the remote address's failure budget (429-like <c>ResourceExhausted</c>), the credential once per stream (an edge
/// credential; its conversation is the only one the stream reaches), then per message the edge's call rate (refused
/// messages count too), the conversation the message names, and the tree's size. The session's own checks (step,
/// length, attached edge) and the call policy then run as for any caller. Refusals of a message are answered on the
/// stream and leave it open; refusals of the stream end it with a status.
/// </summary>
public sealed class EdgeGatewayService(
    IGrainFactory grains,
    VerifiedCredentials credentials,
    EdgeCallRateLimiter edgeRate,
    AddressFailureLimiter failures,
    RefusalLog refusals,
    IOptions<SpecEdgeSiloOptions> silo,
    ILogger<EdgeGatewayService> logger) : EdgeGateway.EdgeGatewayBase
{
    public override async Task Converse(IAsyncStreamReader<EdgeMessage> requests, IServerStreamWriter<ServerMessage> responses, ServerCallContext context)
    {
        var address = context.GetHttpContext().Connection.RemoteIpAddress;
        if (!failures.TryEnter(address, out _))
            throw new RpcException(new Status(StatusCode.ResourceExhausted, "Too many failed requests from this address; retry in a second."));
        string? token = Bearer(context.RequestHeaders.GetValue("authorization"));
        AccessCredential? credential;
        try
        {
            if (!credentials.TryVerify(token, out credential, out var error) || credential!.Role != CredentialRole.Edge)
            {
                failures.Failed(address);   // charged before it leaves, so concurrent opens see the charge
                string why = credential is null ? error : "the gateway is for edge credentials";
                refusals.Refused($"gateway caller at {address}", "EdgeGateway.Converse", why);
                throw new RpcException(new Status(StatusCode.Unauthenticated, $"Credential refused: {why}."));
            }
        }
        finally { failures.Leave(address); }

        // Opening a stream is a call too: a flood of opens costs the edge its rate like a flood of messages.
        if (!edgeRate.TryTake(credential))
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"Too many calls from this edge: at most {edgeRate.CallsPerSecond:G} a second; slow down."));
        string conversation = credential.ConversationId!;   // parsed when the credential was verified
        string edgeId = credential.EdgeId ?? "edge";
        var session = grains.GetGrain<ISessionGrain>(conversation);
        // One writer: gRPC forbids concurrent writes on a stream, and the session's notifications arrive on their own.
        // Bounded and waiting: an edge that does not read its answers stops being read (HTTP/2 flow control does the
        // rest); a notification that finds the outbox full is dropped (the edge's next step resynchronises it).
        var outbox = Channel.CreateBounded<ServerMessage>(new BoundedChannelOptions(64) { FullMode = BoundedChannelFullMode.Wait });
        var writing = DrainAsync(outbox.Reader, responses, context.CancellationToken);
        // Orleans holds the observer object weakly: this stream holds it (GC.KeepAlive below), else a collection would
        // silently drop the session's notifications (turns started, rolled-back steps) for the rest of the stream.
        var notifications = new GatewayObserver(outbox.Writer);
        var observer = grains.CreateObjectReference<IEdgeObserver>(notifications);
        bool attached = false;
        var replies = new List<Task>();   // at most one reply stream per gRPC stream
        try
        {
            await foreach (var message in requests.ReadAllAsync(context.CancellationToken))
            {
                var reply = await HandleAsync(message, token!, credential, conversation, edgeId, session, observer, attached, address, outbox.Writer, replies, context.CancellationToken);
                if (reply.Attachment is not null) attached = true;
                if (message.BodyCase == EdgeMessage.BodyOneofCase.Detach) attached = false;
                if (reply.BodyCase != ServerMessage.BodyOneofCase.None) await outbox.Writer.WriteAsync(reply, context.CancellationToken);
                if (message.BodyCase == EdgeMessage.BodyOneofCase.Detach) break;
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The edge went away; its lease hands the reply to the server.
        }
        finally
        {
            // A reply being streamed goes on until it ends or the edge goes: the request stream ending is not the edge going.
            try { await Task.WhenAll(replies); } catch (Exception) { }
            outbox.Writer.TryComplete();
            try { await writing; } catch (Exception) { }
            grains.DeleteObjectReference<IEdgeObserver>(observer);
            GC.KeepAlive(notifications);
        }
    }

    private async Task<ServerMessage> HandleAsync(EdgeMessage message, string token, AccessCredential credential, string conversation, string edgeId,
        ISessionGrain session, IEdgeObserver observer, bool attached, System.Net.IPAddress? address,
        ChannelWriter<ServerMessage> outbox, List<Task> replies, CancellationToken cancellation)
    {
        // Metered before anything else, refused messages included: a flood costs the edge its rate, not the silo its grains.
        if (!edgeRate.TryTake(credential))
            return Refuse(credential, message, $"Too many messages from this edge: at most {edgeRate.CallsPerSecond:G} a second (Security:MaxEdgeCallsPerSecond); slow down.", resync: false);
        try
        {
            using var caller = CallerCredential.Use(token);
            switch (message.BodyCase)
            {
                case EdgeMessage.BodyOneofCase.Attach:
                    if (!string.Equals(message.Attach.ConversationId, conversation, StringComparison.Ordinal))
                    {
                        failures.Failed(address);
                        return Refuse(credential, message, "the credential is for another conversation", resync: false);
                    }
                    return new ServerMessage { Attachment = ToWire(await session.AttachEdgeAsync(edgeId, observer)) };
                case EdgeMessage.BodyOneofCase.Tree:
                    if (!attached) return Refuse(credential, message, "attach before sending trees", resync: true);
                    if (TreeShapeError(message.Tree) is { } shape) return Refuse(credential, message, shape, resync: false);
                    var tree = new TreeSubmission(conversation, edgeId, message.Tree.Step, message.Tree.CommittedLength, message.Tree.Tokens.ToArray(), message.Tree.Parents.ToArray(),
                        message.Tree.Confidence.IsEmpty ? null : message.Tree.Confidence.ToByteArray());
                    return new ServerMessage { Verdict = VerdictWire.ToWire(await session.SubmitTreeAsync(tree)) };
                case EdgeMessage.BodyOneofCase.Detach:
                    await session.DetachEdgeAsync(edgeId);
                    return new ServerMessage();
                case EdgeMessage.BodyOneofCase.UserMessage:
                    // The call policy decides (the credential's chat right); the session checks text and settings.
                    var turn = await session.BeginTurnAsync(new TurnRequest
                    {
                        Text = message.UserMessage.Text, Settings = FromWire(message.UserMessage.Settings),
                        History = message.UserMessage.History.Select(t => new ChatTurn(t.Role, t.Content)
                        {
                            ToolCalls = t.ToolCalls.Count > 0 ? t.ToolCalls.Select(c => new ChatTurnToolCall(c.Id, c.Name, c.Arguments)).ToArray() : null,
                            ToolCallId = t.ToolCallId is { Length: > 0 } callId ? callId : null,
                        }).ToArray(),
                        Role = message.UserMessage.Role is { Length: > 0 } role ? role : "user",
                        ToolCallId = message.UserMessage.ToolCallId is { Length: > 0 } toolCallId ? toolCallId : null,
                    });
                    return new ServerMessage { TurnStarted = GatewayObserver.ToWire(turn) };
                case EdgeMessage.BodyOneofCase.Read:
                    var read = new Messages();
                    read.Turns.Add((await session.GetAsync()).Messages.Select(m => new Turn { Role = m.Role, Content = m.Content }));
                    return new ServerMessage { Messages = read };
                case EdgeMessage.BodyOneofCase.StopReply:
                    return new ServerMessage { Stopped = new Stopped { WasGenerating = await session.StopReplyAsync() } };
                case EdgeMessage.BodyOneofCase.StreamReply:
                    if (replies.Count > 0) return Refuse(credential, message, "this stream already streams a reply", resync: false);
                    if (message.StreamReply.FromChunk < 0) return Refuse(credential, message, "from_chunk must not be negative", resync: false);
                    replies.Add(PumpReplyAsync(session, token, message.StreamReply.FromChunk, outbox, cancellation));
                    return new ServerMessage();
                default:
                    return Refuse(credential, message, "an empty or unknown message", resync: false);
            }
        }
        catch (Exception e)
        {
            return new ServerMessage { Rejection = Rejected(e, message.Tree?.Step ?? 0, resync: true, $"{message.BodyCase} of edge {edgeId} on {conversation}") };
        }
    }

    /// <summary>
    /// Streams the session's reply into the outbox under the edge's credential (the call policy lets edges with the chat
    /// right read it), until the final chunk or the edge goes. Its failures are the edge's to see, in our own words.
    /// </summary>
    private async Task PumpReplyAsync(ISessionGrain session, string token, int fromChunk, ChannelWriter<ServerMessage> outbox, CancellationToken cancellation)
    {
        try
        {
            using var caller = CallerCredential.Use(token);
            await foreach (var chunk in session.StreamReplyAsync(fromChunk).WithCancellation(cancellation))
            {
                var wire = new SpecEdge.Gateway.V1.ReplyChunk { Index = chunk.Index, Text = chunk.Text, Final = chunk.Final, FinishReason = (int)(chunk.FinishReason ?? 0) };
                wire.Tokens.Add(chunk.Tokens);
                if (chunk.Error is { } error) wire.Error = error;
                await outbox.WriteAsync(new ServerMessage { ReplyChunk = wire }, cancellation);
                if (chunk.Final) return;
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { }
        catch (ChannelClosedException) { }
        catch (Exception e)
        {
            outbox.TryWrite(new ServerMessage { Rejection = Rejected(e, 0, resync: false, "streaming a reply") });
        }
    }

    /// <summary>
    /// A failed call as the edge sees it, with its kind: the session's own refusals (a stale step, a rolled-back write, a
    /// reply that ended, the policy) in their words; a silo gone away as a transient refusal; anything else in our words
    /// only (runtime errors can name silos and addresses), logged with its stack.
    /// </summary>
    private Rejection Rejected(Exception e, long step, bool resync, string what)
    {
        var (kind, error) = e switch
        {
            AccessDeniedException => (RefusalKind.AccessDenied, e.Message),
            ArgumentException => (RefusalKind.Invalid, e.Message),
            InvalidOperationException => (RefusalKind.State, e.Message),
            // Orleans' own timeouts name silos and message ids: our words only.
            TimeoutException => (RefusalKind.Timeout, "The server did not answer in time; retry."),
            // The silo that held the conversation went away (a crash, a deploy): the conversation comes back on another.
            OrleansMessageRejectionException => (RefusalKind.Timeout, "The conversation's silo became unavailable; it is moving. Retry."),
            _ => (RefusalKind.Server, "The request failed on the server; try again."),
        };
        if (kind == RefusalKind.Server) logger.LogWarning(e, "Gateway: {What} failed", what);
        else if (e is OrleansMessageRejectionException) logger.LogInformation("Gateway: {What}: its silo is unavailable ({Type})", what, e.GetType().Name);
        return new Rejection { Step = step, Error = error, Resync = resync, Kind = kind };
    }

    /// <summary>Why a tree cannot be verified whatever the conversation's state (its size and shape on the wire), or null.</summary>
    private string? TreeShapeError(SpecEdge.Gateway.V1.Tree tree) =>
        SpecEdge.Inference.Speculative.TreeRules.Size(tree.Tokens.Count, tree.Parents.Count, tree.Confidence.IsEmpty ? null : tree.Confidence.Length, silo.Value.MaxTreeNodes);

    private ServerMessage Refuse(AccessCredential credential, EdgeMessage message, string reason, bool resync)
    {
        refusals.Refused(CallAuthorizationFilter.CallerName(credential), $"EdgeGateway.{message.BodyCase}", reason);
        return new ServerMessage { Rejection = new Rejection { Step = message.Tree?.Step ?? 0, Error = reason, Resync = resync } };
    }

    private static async Task DrainAsync(ChannelReader<ServerMessage> outbox, IServerStreamWriter<ServerMessage> responses, CancellationToken cancellation)
    {
        await foreach (var message in outbox.ReadAllAsync(cancellation)) await responses.WriteAsync(message, cancellation);
    }

    private static string? Bearer(string? header) =>
        header is not null && header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? header["Bearer ".Length..].Trim() : null;

    private static GenerationSettings FromWire(Settings? s) => s is null ? new GenerationSettings() : new GenerationSettings
    {
        Temperature = s.Temperature, TopK = s.TopK, TopP = s.TopP == 0 ? 1 : s.TopP, Seed = s.HasSeed ? s.Seed : null,
        MaxNewTokens = s.MaxNewTokens, UseChatTemplate = !s.Raw, SystemPrompt = s.HasSystemPrompt ? s.SystemPrompt : null, StopStrings = s.Stop.ToArray(),
        PresencePenalty = s.PresencePenalty, FrequencyPenalty = s.FrequencyPenalty, RepetitionPenalty = s.HasRepetitionPenalty ? s.RepetitionPenalty : 1.0,
        LogitBias = s.LogitBias.Count > 0 ? new Dictionary<int, double>(s.LogitBias) : null, MinP = s.MinP,
        // An unknown number stays unknown, and the session refuses it by name rather than reading it as text.
        Format = (OutputFormat)s.OutputFormat, JsonSchema = s.HasJsonSchema ? s.JsonSchema : null,
        Tools = s.Tools.Count > 0 ? s.Tools.ToArray() : null, ToolChoice = s.HasToolChoice ? s.ToolChoice : null, ToolName = s.HasToolName ? s.ToolName : null,
        ParallelToolCalls = !s.HasParallelToolCalls || s.ParallelToolCalls,
    };

    private static Attachment ToWire(EdgeAttachment a)
    {
        var wire = new Attachment { Step = a.Step, Generating = a.Generating, VocabSize = a.VocabSize, Temperature = a.Temperature, MaxTreeNodes = a.MaxTreeNodes, MaxContextTokens = a.MaxContextTokens };
        wire.Committed.Add(a.Committed);
        return wire;
    }
}
