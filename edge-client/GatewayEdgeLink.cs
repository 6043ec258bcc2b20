using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Gateway.V1;

namespace SpecEdge.EdgeClient;

/// <summary>
/// An edge's stream to its conversation through the silo's edge gateway (gRPC over HTTP/2; TLS with the enrolment
/// certificate, accepting only silos the cluster CA issued). One request at a time, answered in order: attach gets the
/// attachment, a tree gets its verdict, or a rejection. A stream that breaks is reopened on the next request, which the
/// edge makes after re-attaching, so a reconnect costs a resync and loses nothing. Notifications the session pushes
/// (a turn started, a rolled-back step) arrive between answers: a turn raises <see cref="TurnStarted"/>, a rollback fails
/// the tree it concerns so the edge resynchronises. Given several gateways (one per silo), a broken stream is reopened
/// on the next one: any silo's gateway serves any conversation.
/// </summary>
public sealed class GatewayEdgeLink : IAsyncDisposable
{
    private readonly GrpcChannel[] _channels;
    private readonly EdgeGateway.EdgeGatewayClient[] _clients;
    private int _next;
    private readonly Metadata _headers;
    private readonly string _conversation;
    private readonly SemaphoreSlim _oneAtATime = new(1, 1);
    private AsyncDuplexStreamingCall<EdgeMessage, ServerMessage>? _call;
    private Task _reading = Task.CompletedTask;
    private (TaskCompletionSource<ServerMessage> Answer, ServerMessage.BodyOneofCase Expected, long Step)? _waiting;

    /// <param name="address">The gateway, <c>https://host:port</c> (or <c>http://</c> for a development silo without TLS).</param>
    /// <param name="token">The edge credential; it names the one conversation this link may reach.</param>
    /// <param name="certificateFile">The edge's enrolment certificate (PKCS#12), presented in the TLS handshake.</param>
    /// <param name="clusterCaFile">The cluster CA (PEM): the gateway's certificate must chain to it.</param>
    public GatewayEdgeLink(Uri address, string token, string conversationId, string? certificateFile = null, string? clusterCaFile = null)
        : this(new[] { address }, token, conversationId, certificateFile, clusterCaFile) { }

    /// <param name="addresses">The gateways of several silos: the stream opens on the first and moves on when one breaks.</param>
    public GatewayEdgeLink(IReadOnlyList<Uri> addresses, string token, string conversationId, string? certificateFile = null, string? clusterCaFile = null)
    {
        if (addresses.Count == 0) throw new ArgumentException("No edge gateway address was given.", nameof(addresses));
        _conversation = ConversationId.Parse(conversationId).ToString();
        _channels = addresses.Select(a => GrpcChannel.ForAddress(a, new GrpcChannelOptions { HttpHandler = Handler(a, certificateFile, clusterCaFile), MaxReceiveMessageSize = 4 << 20 })).ToArray();
        _clients = _channels.Select(c => new EdgeGateway.EdgeGatewayClient(c)).ToArray();
        _headers = new Metadata { { "authorization", "Bearer " + token } };
    }

    /// <summary>Parses <c>Edge:EdgeGateway</c>: one address or several, comma-separated.</summary>
    public static Uri[] ParseAddresses(string addresses) =>
        addresses.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => new Uri(a)).ToArray();

    private static SocketsHttpHandler Handler(Uri address, string? certificateFile, string? clusterCaFile)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true, PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan };
        if (address.Scheme == Uri.UriSchemeHttps)
        {
            if (string.IsNullOrWhiteSpace(certificateFile) || string.IsNullOrWhiteSpace(clusterCaFile))
                throw new ArgumentException("An https:// gateway needs the edge's certificate (Tls:CertificateFile) and the cluster CA (Tls:ClusterCaFile).");
            var certificate = CertificateTrust.Load(certificateFile);
            var clusterCa = CertificateTrust.Load(clusterCaFile);
            handler.SslOptions.ClientCertificates = new X509CertificateCollection { certificate };
            // Host names are not checked (silos move); the issuing CA identifies a silo.
            handler.SslOptions.RemoteCertificateValidationCallback = (_, remote, _, _) =>
                remote is not null && CertificateTrust.IsIssuedBy(X509CertificateLoader.LoadCertificate(remote.GetRawCertData()), clusterCa);
        }
        return handler;
    }

    /// <summary>A reply started in the conversation while this edge is attached.</summary>
    public event Action<Contracts.TurnStarted>? TurnStarted;

    /// <summary>The verifier's early exit spoke for a tree in flight (silos with early verdicts on); see <see cref="EarlyStepVerdict"/>.</summary>
    public event Action<EarlyStepVerdict>? EarlyVerdict;

    /// <summary>Serialized bytes of the protocol messages sent and received (without HTTP/2 and TLS framing).</summary>
    public long BytesSent { get; private set; }
    public long BytesReceived { get; private set; }

    /// <summary>Attaches (or re-attaches) on the current gateway; one that cannot be reached is skipped for the next, each tried once.</summary>
    public async Task<EdgeAttachment> AttachAsync(TimeSpan timeout)
    {
        var answer = await AskAnyGatewayAsync(new EdgeMessage { Attach = new Attach { ConversationId = _conversation } }, ServerMessage.BodyOneofCase.Attachment, timeout);
        var a = answer.Attachment;
        return new EdgeAttachment(_conversation, a.Committed.ToArray(), a.Step, a.Generating, a.VocabSize, a.Temperature, a.MaxTreeNodes, a.MaxContextTokens);
    }

    /// <summary>
    /// Sends a tree and waits for its verdict; <paramref name="whileWaiting"/> runs once the tree is on its way, given the
    /// verdict's arrival to watch (it may draft until the verdict comes).
    /// </summary>
    /// <exception cref="ArgumentException">The tree was refused (stale step, rolled back, malformed): resynchronise.</exception>
    /// <exception cref="TimeoutException">No answer within <paramref name="timeout"/>.</exception>
    public async Task<StepVerdict> SubmitAsync(TreeSubmission tree, Func<Task, Task> whileWaiting, TimeSpan timeout)
    {
        var wire = new Gateway.V1.Tree { Step = tree.Step, CommittedLength = tree.CommittedLength };
        wire.Tokens.Add(tree.Tokens);
        wire.Parents.Add(tree.Parents);
        if (tree.Confidence is { } confidence) wire.Confidence = Google.Protobuf.ByteString.CopyFrom(confidence);
        var v = (await AskAsync(new EdgeMessage { Tree = wire }, ServerMessage.BodyOneofCase.Verdict, tree.Step, whileWaiting, timeout)).Verdict;
        return FromWire(_conversation, v);
    }

    /// <summary>A verdict of <paramref name="conversation"/> as the gateway sent it, in the contracts' terms.</summary>
    public static StepVerdict FromWire(string conversation, Verdict v)
    {
        var timing = v.Timing is { } t ? new Contracts.StepTiming(t.ReceivedUnixUs, t.QueueUs, t.VerifyUs, t.PersistUs, t.SessionUs) : null;
        return new StepVerdict(conversation, v.Step, v.AcceptedTokens.ToArray(), v.Finished, v.FinishReason == 0 ? null : (ReplyFinish)v.FinishReason, v.ServerMs, v.BatchSize, v.QueueLength, timing,
            v.HasVerifiedNodes ? v.VerifiedNodes : -1) { ServerSteps = v.ServerSteps };
    }

    /// <summary>Sends the user's next message with its reply's settings (the credential needs the chat right).</summary>
    public async Task<Contracts.TurnStarted> BeginTurnAsync(TurnRequest request, TimeSpan timeout)
    {
        var s = request.Settings;
        var settings = new Settings
        {
            Temperature = s.Temperature, TopK = s.TopK, TopP = s.TopP, MaxNewTokens = s.MaxNewTokens, Raw = !s.UseChatTemplate,
            PresencePenalty = s.PresencePenalty, FrequencyPenalty = s.FrequencyPenalty, RepetitionPenalty = s.RepetitionPenalty, MinP = s.MinP,
            OutputFormat = (int)s.Format,
        };
        if (s.Seed is { } seed) settings.Seed = seed;
        if (s.SystemPrompt is { } system) settings.SystemPrompt = system;
        if (s.JsonSchema is { } schema) settings.JsonSchema = schema;
        if (s.LogitBias is { } bias) settings.LogitBias.Add(bias);
        if (s.Tools is { } tools) settings.Tools.Add(tools);
        if (s.ToolChoice is { } choice) settings.ToolChoice = choice;
        if (s.ToolName is { } toolName) settings.ToolName = toolName;
        if (!s.ParallelToolCalls) settings.ParallelToolCalls = false;
        settings.Stop.Add(s.StopStrings);
        var message = new UserMessage { Text = request.Text, Settings = settings, Role = request.Role, ToolCallId = request.ToolCallId ?? "" };
        message.History.Add(request.History.Select(t =>
        {
            var turn = new Turn { Role = t.Role, Content = t.Content, ToolCallId = t.ToolCallId ?? "" };
            turn.ToolCalls.Add((t.ToolCalls ?? []).Select(c => new ToolCall { Id = c.Id, Name = c.Name, Arguments = c.Arguments }));
            return turn;
        }));
        var t = (await AskAsync(new EdgeMessage { UserMessage = message }, ServerMessage.BodyOneofCase.TurnStarted, -1, NothingWhileWaiting, timeout)).TurnStarted;
        return FromWire(t);
    }

    private Contracts.TurnStarted FromWire(Gateway.V1.TurnStarted t) =>
        new(_conversation, t.AppendedTokens.ToArray(), t.CommittedLength, t.Step, t.CachedTokens, t.FirstTokens.ToArray(), t.Finished);

    /// <summary>
    /// The current reply as the session streams it, from chunk <paramref name="fromChunk"/> to the final one (the
    /// credential needs the chat right). On a stream of its own, so it runs beside drafting on this link; a broken
    /// stream moves on to the next gateway and goes on from the next chunk, each gateway tried once.
    /// </summary>
    /// <exception cref="ArgumentException">The gateway or the session refused the read.</exception>
    public async IAsyncEnumerable<Contracts.ReplyChunk> StreamReplyAsync(int fromChunk, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
    {
        int next = fromChunk;
        for (int attempt = 0; ; attempt++)
        {
            var client = _clients[(_next + attempt) % _clients.Length];
            using var call = client.Converse(_headers, cancellationToken: cancellation);
            Exception? broke = null;
            bool final = false;
            var ask = new EdgeMessage { StreamReply = new StreamReply { FromChunk = next } };
            try
            {
                await call.RequestStream.WriteAsync(ask, cancellation);
                BytesSent += ask.CalculateSize();
            }
            catch (Exception e) when (e is RpcException or IOException or InvalidOperationException) { broke = e; }
            while (broke is null && !final)
            {
                ServerMessage message;
                try
                {
                    if (!await call.ResponseStream.MoveNext(cancellation)) { broke = new IOException("The gateway closed the reply stream."); break; }
                    message = call.ResponseStream.Current;
                }
                catch (Exception e) when (e is RpcException { StatusCode: not StatusCode.Cancelled } or IOException) { broke = e; break; }
                BytesReceived += message.CalculateSize();
                if (message.Rejection is { } rejection) throw new GatewayRejectionException(rejection);
                if (message.ReplyChunk is not { } c) continue;
                var chunk = new Contracts.ReplyChunk(c.Index, c.Text, c.Tokens.ToArray(), c.Final, c.FinishReason == 0 ? null : (ReplyFinish)c.FinishReason, c.HasError ? c.Error : null);
                next = chunk.Index + 1;
                final = chunk.Final;
                yield return chunk;
            }
            if (final) yield break;
            if (attempt + 1 >= _clients.Length)
                throw new GatewayUnavailableException($"The reply stream broke ({Describe(broke!)}); read it again from chunk {next}.", broke);
        }
    }

    /// <summary>Stops the reply in progress (the credential needs the chat right); false when none was in progress.</summary>
    public async Task<bool> StopReplyAsync(TimeSpan timeout) =>
        (await AskAnyGatewayAsync(new EdgeMessage { StopReply = new StopReply() }, ServerMessage.BodyOneofCase.Stopped, timeout)).Stopped.WasGenerating;

    /// <summary>The conversation's messages as durably stored.</summary>
    public async Task<ChatTurn[]> ReadMessagesAsync(TimeSpan timeout) =>
        (await AskAnyGatewayAsync(new EdgeMessage { Read = new Read() }, ServerMessage.BodyOneofCase.Messages, timeout))
            .Messages.Turns.Select(t => new ChatTurn(t.Role, t.Content)).ToArray();

    /// <summary>Detaches and closes the stream; the server decodes the rest of a reply in progress.</summary>
    public async Task DetachAsync()
    {
        await _oneAtATime.WaitAsync();
        try
        {
            var call = _call;
            if (call is null) return;
            await SendAsync(new EdgeMessage { Detach = new Detach() });
            await call.RequestStream.CompleteAsync();
            try { await _reading.WaitAsync(TimeSpan.FromSeconds(5)); } catch (Exception) { }
            Close();
        }
        finally { _oneAtATime.Release(); }
    }

    /// <summary>Breaks the stream as a network failure would (tests of reconnection); the next request reopens it.</summary>
    public void Abort() => Close();

    /// <summary>An idempotent request (attach, read): a gateway that cannot be reached is skipped for the next, each tried once.</summary>
    private async Task<ServerMessage> AskAnyGatewayAsync(EdgeMessage request, ServerMessage.BodyOneofCase expected, TimeSpan timeout)
    {
        for (int attempt = 0; ; attempt++)
        {
            try { return await AskAsync(request, expected, -1, NothingWhileWaiting, timeout); }
            catch (GatewayUnavailableException) when (attempt + 1 < _clients.Length) { }
        }
    }

    private static readonly Func<Task, Task> NothingWhileWaiting = _ => Task.CompletedTask;

    private async Task<ServerMessage> AskAsync(EdgeMessage request, ServerMessage.BodyOneofCase expected, long step, Func<Task, Task> whileWaiting, TimeSpan timeout)
    {
        await _oneAtATime.WaitAsync();
        try
        {
            var answer = new TaskCompletionSource<ServerMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (this) _waiting = (answer, expected, step);
            try
            {
                await SendAsync(request);
            }
            catch (Exception e) when (e is RpcException or IOException or InvalidOperationException or ObjectDisposedException)
            {
                // A stream the server refused at once (a bad credential, the address's budget) fails the write with a bare
                // Cancelled while the reader learns the real status: give the reader a moment to say it.
                if (await Task.WhenAny(answer.Task, Task.Delay(TimeSpan.FromSeconds(2))) == answer.Task
                    && answer.Task.Result.Rejection is { } refusal && !ReferenceEquals(answer.Task.Result, StreamEnded))
                    throw new GatewayRejectionException(refusal);
                // The stream is gone: the next request opens a new one on the next gateway (after the edge re-attaches).
                Broken(_call);
                throw new GatewayUnavailableException($"The gateway stream broke ({Describe(e)}); reconnecting.", e);
            }
            var deadline = Task.Delay(timeout);
            await whileWaiting(answer.Task);
            var done = await Task.WhenAny(answer.Task, deadline);
            if (done != answer.Task) throw new TimeoutException($"No answer from the gateway within {timeout.TotalSeconds:F0}s.");
            var message = await answer.Task;
            if (ReferenceEquals(message, StreamEnded)) throw new GatewayUnavailableException($"The gateway stream ended ({_endedBecause}); reconnecting on the next gateway.");
            if (message.Rejection is { } rejection) throw new GatewayRejectionException(rejection);
            return message;
        }
        finally
        {
            lock (this) _waiting = null;
            _oneAtATime.Release();
        }
    }

    private async Task SendAsync(EdgeMessage message)
    {
        AsyncDuplexStreamingCall<EdgeMessage, ServerMessage> call;
        lock (this)
        {
            if (_call is null)
            {
                _call = _clients[_next % _clients.Length].Converse(_headers);
                var opened = _call;
                _reading = Task.Run(() => ReadAsync(opened));
            }
            call = _call;
        }
        BytesSent += message.CalculateSize();
        await call.RequestStream.WriteAsync(message);
    }

    private async Task ReadAsync(AsyncDuplexStreamingCall<EdgeMessage, ServerMessage> call)
    {
        try
        {
            await foreach (var message in call.ResponseStream.ReadAllAsync())
            {
                BytesReceived += message.CalculateSize();
                if (message.EarlyVerdict is { } early)
                {
                    EarlyVerdict?.Invoke(new EarlyStepVerdict(_conversation, early.Step, early.AcceptedTokens.ToArray()));
                    continue;
                }
                if (message.TurnStarted is { } turn)
                {
                    bool answer;
                    lock (this) answer = _waiting is { Expected: ServerMessage.BodyOneofCase.TurnStarted } w && w.Answer.TrySetResult(message);
                    if (!answer) TurnStarted?.Invoke(FromWire(turn));
                    continue;
                }
                lock (this)
                {
                    if (_waiting is not { } w) continue;   // a late answer to a request that timed out
                    bool answers = message.BodyCase == w.Expected && (w.Step < 0 || message.Verdict is null || message.Verdict.Step == w.Step)
                        || message.Rejection is { } r && (w.Step < 0 || r.Step == w.Step || r.Step == 0);
                    if (answers) w.Answer.TrySetResult(message);
                }
            }
            Fail(call, new IOException("The gateway closed the stream."));
        }
        catch (Exception e)
        {
            Fail(call, e);
        }
    }

    /// <summary>What a waiting request gets when its stream ends under it: the next request reconnects.</summary>
    private static readonly ServerMessage StreamEnded = new() { Rejection = new Rejection { Error = "The gateway stream ended.", Resync = true } };

    /// <summary>Why the last stream ended under a waiting request, for the message the edge sees (and logs).</summary>
    private string? _endedBecause;

    /// <summary>What went wrong, in a line: the gRPC status and its detail when there is one.</summary>
    private static string Describe(Exception e) => e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : $"{e.GetType().Name}: {e.Message}";

    /// <summary>The stream ended under a waiting request: it fails at once instead of timing out.</summary>
    private void Fail(AsyncDuplexStreamingCall<EdgeMessage, ServerMessage> call, Exception e)
    {
        lock (this)
        {
            if (!ReferenceEquals(_call, call)) return;   // an older stream, already replaced
            // A stream the server refused outright (a bad credential, the address's budget) is the edge's problem, not the gateway's.
            if (e is RpcException { StatusCode: StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.ResourceExhausted } refused)
                _waiting?.Answer.TrySetResult(new ServerMessage { Rejection = new Rejection { Error = $"The gateway refused the stream ({refused.StatusCode}: {refused.Status.Detail}).", Resync = true } });
            else
            {
                _endedBecause = Describe(e);
                _waiting?.Answer.TrySetResult(StreamEnded);
            }
        }
        Broken(call);
    }

    /// <summary>Forgets <paramref name="call"/> if it is still the current stream; the next stream opens on the next gateway.</summary>
    private void Broken(AsyncDuplexStreamingCall<EdgeMessage, ServerMessage>? call)
    {
        lock (this)
        {
            if (call is null || !ReferenceEquals(_call, call)) return;
            _call = null;
            _next++;
        }
        call.Dispose();
    }

    private void Close()
    {
        AsyncDuplexStreamingCall<EdgeMessage, ServerMessage>? call;
        lock (this)
        {
            call = _call;
            _call = null;
        }
        call?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Close();
        foreach (var channel in _channels) channel.Dispose();
        _oneAtATime.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// The gateway or the session refused a request (an <see cref="ArgumentException"/>, as every refusal the edge
/// resynchronises on); <see cref="AsSessionException"/> gives it back its kind for callers that answer their own clients.
/// </summary>
public sealed class GatewayRejectionException(Rejection rejection) : ArgumentException(rejection.Error)
{
    public RefusalKind Kind { get; } = rejection.Kind;

    /// <summary>The refusal as the session grain would have thrown it, for mapping to the API's answers.</summary>
    public Exception AsSessionException() => Kind switch
    {
        RefusalKind.State => new InvalidOperationException(Message),
        RefusalKind.AccessDenied => new AccessDeniedException(Message),
        RefusalKind.Timeout => new TimeoutException(Message),
        RefusalKind.Server => new Exception(Message),
        _ => new ArgumentException(Message),
    };
}

/// <summary>The edge gateway could not be reached or its stream broke; the next request reconnects (on the next gateway if several).</summary>
public sealed class GatewayUnavailableException(string message, Exception? inner = null) : TimeoutException(message, inner);
