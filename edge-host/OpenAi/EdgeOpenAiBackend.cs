using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;
using SpecEdge.OpenAi;
using SpecEdge.EdgeClient;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// The edge host's backend of the OpenAI-compatible API (<c>--serve</c>): the same requests and replies as the silo's
/// endpoint, with the drafting done on this PC. Local apps present the key in <see cref="EdgeHostOptions.ServeKeyFile"/>.
/// This host holds its tenant's service credential but no Orleans connection: for each reply it enrols an edge for the
/// reply's conversation over the silos' HTTP API (<see cref="EdgeHostOptions.EnrolUrls"/>) and reaches the conversation
/// through the edge gateway under that edge credential, which names that conversation only. While a reply is drafted
/// here, this host is its attached edge; the text comes from the session's reply stream (over the gateway), so it is
/// byte for byte what the silo's endpoint returns.
/// </summary>
public sealed class EdgeOpenAiBackend : IOpenAiBackend, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly EdgeHostOptions _o;
    private readonly EdgeTlsOptions _tls;
    private readonly Uri[] _gateways;
    private readonly HttpEdgeEnrolment _enrolment;
    private readonly ILogger<EdgeOpenAiBackend> _logger;
    private readonly LocalApiKey _key;
    private readonly string _tenant;
    private readonly string[] _models;
    private readonly DraftPool _drafts;
    /// <summary>The draft's tokens for structured output, built at the first reply (a 152k vocabulary takes about a second).</summary>
    private readonly Lazy<TokenMasker> _masker;
    /// <summary>The draft's tokenizer (the target's too: they share one), read at first use.</summary>
    private readonly Lazy<HfTokenizer> _tokenizer;
    private readonly LocalConversationIndex _index = new();
    /// <summary>Cancelled at shutdown: drafting stops before the draft models are freed.</summary>
    private readonly CancellationTokenSource _shutdown = new();
    /// <summary>Replies being drafted here; shutdown waits for them to let go of their draft models.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<Task, byte> _drafting = new();

    public EdgeOpenAiBackend(IOptions<EdgeHostOptions> options, IOptions<ClientCredentialOptions> credential, IConfiguration configuration,
        IOptions<OpenAiOptions> api, ILogger<EdgeOpenAiBackend> logger)
    {
        _o = options.Value;
        _logger = logger;
        _key = new LocalApiKey(_o.ServeKeyFile);
        string? token = credential.Value.ReadToken();
        // Read, not verified: only the silo can verify it, and does so on every enrolment. The tenant names new conversations.
        var claims = token is null ? null : CredentialCodec.ReadUnverified(token);
        if (claims is not { Role: CredentialRole.Service, Tenant: { Length: > 0 } tenant })
            throw new InvalidOperationException("--serve needs a service credential (Credential:TokenFile / --credential-file): serving creates conversations of the service's tenant.");
        if (!_o.UsesEdgeGateway || _o.EnrolUrls is not { Length: > 0 } enrolUrls)
            throw new InvalidOperationException("--serve needs the silos' edge gateway (--edge-gateway https://host:30443) and HTTP API (--enrol-url http://host:8080): it enrols an edge per reply there.");
        _tenant = tenant;
        _tls = configuration.GetSection(EdgeTlsOptions.Section).Get<EdgeTlsOptions>() ?? new EdgeTlsOptions();
        _gateways = GatewayEdgeLink.ParseAddresses(_o.EdgeGateway!);
        _enrolment = new HttpEdgeEnrolment(HttpEdgeEnrolment.ParseAddresses(enrolUrls), token!);
        // One model id on silo and edge: the silo's own (its target's name) unless configured here.
        _models = new[] { api.Value.ModelName is { Length: > 0 } name ? name : SilosModel() };
        if (_o.Threads > 0) TorchSharp.torch.set_num_threads(_o.Threads);
        _drafts = new DraftPool(_o.DraftModel, _o.DType, _o.Device, _o.ServeDraftSlots);
        _tokenizer = new Lazy<HfTokenizer>(() => HfTokenizer.Load(_o.DraftModel));
        _toolCalls = new Lazy<ToolCallSyntax?>(() => ChatFormat.For(_tokenizer.Value).ToolCalls);
        _masker = new Lazy<TokenMasker>(() =>
        {
            var tokenizer = _tokenizer.Value;
            var stop = new HashSet<int>(tokenizer.EosTokenIds.Concat(_drafts.First.Generation.EosTokenIds));
            if (tokenizer.TokenToId(ChatFormat.For(tokenizer).EndOfTurnToken) is int endOfTurn) stop.Add(endOfTurn);
            return new TokenMasker(TokenVocabulary.From(tokenizer, stop, _drafts.First.Config.VocabSize));
        });
        logger.LogInformation("Serving model {Model} for tenant {Tenant}: {Slots} draft slot(s) of {Draft}; local API key in {KeyFile}",
            _models[0], _tenant, Math.Max(1, _o.ServeDraftSlots), _o.DraftModel, _key.Path);
    }

    public IReadOnlyList<string> ModelIds => _models;

    public ToolCallSyntax? ToolCalls => _toolCalls.Value;
    private readonly Lazy<ToolCallSyntax?> _toolCalls;

    /// <summary>The silos' model id, asked before the port opens (for up to 30 s while the cluster starts).</summary>
    private string SilosModel()
    {
        for (int attempt = 1; ; attempt++)
        {
            try { return _enrolment.ModelsAsync().GetAwaiter().GetResult().First(); }
            catch (InvalidOperationException e) when (attempt < 30)
            {
                _logger.LogWarning("Waiting for the silos' model list ({Message})", e.Message);
                Thread.Sleep(TimeSpan.FromSeconds(1));
            }
        }
    }

    public OpenAiCaller Authenticate(string apiKey) =>
        _key.Matches(apiKey) ? new OpenAiCaller(apiKey, _tenant)
            : throw new OpenAiException(401, "Incorrect API key provided: use the key in the edge host's Edge:ServeKeyFile.", code: "invalid_api_key");

    public async Task<ReplyRun> StartAsync(OpenAiCaller caller, ReplyJob job, CancellationToken cancellationToken)
    {
        // The edge gateway's reply stream carries text and token ids, not log probabilities: refuse rather than omit them.
        if (job.Settings.Logprobs >= 0)
            throw OpenAiException.BadRequest("logprobs", "'logprobs' is served by the cluster's own API, not by an edge host's --serve.");
        var plan = await ConversationPlan.ForAsync(caller, job, _index);
        string edgeId = _o.EdgeId ?? "edge-serve";
        GatewayEdgeLink? reading = null, drafting = null;
        EdgeSession? edge = null;
        var draft = _drafts.TryTake();
        TurnStarted started;
        try
        {
            string credential = await _enrolment.IssueAsync(plan.SessionId, edgeId, chat: true, TimeSpan.FromHours(1), cancellationToken);
            reading = Link(credential, plan.SessionId);
            if (draft is null) started = await reading.BeginTurnAsync(plan.TurnFor(job), Timeout);
            else
            {
                drafting = Link(credential, plan.SessionId);
                edge = new EdgeSession(drafting, draft, plan.SessionId, edgeId, _o.Tree(), capacity: 4096) { Masker = _masker.Value, ToolCalls = ToolCalls };
                // Attached before the turn starts, so the cluster leaves the drafting to this host from the first step.
                await edge.AttachAsync();
                started = await edge.BeginTurnAsync(plan.TurnFor(job));
            }
        }
        catch (Exception e)
        {
            if (edge is not null) await ReleaseAsync(edge, drafting!, draft!, detach: true);
            else
            {
                if (draft is not null) _drafts.Return(draft);
                if (drafting is not null) await drafting.DisposeAsync();
            }
            if (reading is not null) await reading.DisposeAsync();
            await plan.UndoAsync(_index);
            if (Refusal(e, job) is { } refusal) throw refusal;
            throw;
        }
        var draftingTask = edge is null ? Task.CompletedTask : Task.Run(() => DraftAsync(edge, drafting!, draft!));
        _drafting.TryAdd(draftingTask, 0);
        _ = draftingTask.ContinueWith(t => _drafting.TryRemove(t, out _), TaskScheduler.Default);
        return new EdgeReplyRun(reading, draftingTask, text => ConversationPlan.RecordReplyAsync(_index, caller, job, plan.SessionId, text))
        {
            SessionId = plan.SessionId,
            PromptTokens = started.CommittedLength,
            CachedTokens = started.CachedTokens,
        };
    }

    private GatewayEdgeLink Link(string credential, string sessionId) => new(_gateways, credential, sessionId, _tls.CertificateFile, _tls.ClusterCaFile);

    /// <summary>
    /// A refusal in the API's words: the session's own (over the gateway they arrive as the session's messages), the
    /// silo's answer to the enrolment, or an unreachable cluster (503).
    /// </summary>
    private static OpenAiException? Refusal(Exception e, ReplyJob job) => e switch
    {
        GatewayUnavailableException or HttpRequestException => new OpenAiException(503, "The cluster cannot be reached from this edge host; try again.", type: "server_error", code: "server_unavailable"),
        GatewayRejectionException rejection => SessionRefusals.ToOpenAi(rejection.AsSessionException(), job),
        // The conversation is the caller's (a session id of another tenant was refused already); any other refusal
        // of the enrolment is this host's configuration (its credential), not the caller's request.
        EdgeEnrolmentRefusedException { Status: 400 or 403 } refused => new OpenAiException(refused.Status, refused.Message, "session", refused.Status == 403 ? "permission_error" : "invalid_request_error"),
        EdgeEnrolmentRefusedException { Status: 429 } => new OpenAiException(429, "The cluster is rate-limiting this edge host; retry shortly.", type: "rate_limit_error", code: "rate_limit_exceeded"),
        EdgeEnrolmentRefusedException refused => new OpenAiException(502, $"The cluster refused this edge host: {refused.Message}", type: "server_error"),
        _ => SessionRefusals.ToOpenAi(e, job),
    };

    /// <summary>Drafts the reply to its end; if the cluster is lost meanwhile, the session's lease hands the reply to the server.</summary>
    private async Task DraftAsync(EdgeSession edge, GatewayEdgeLink link, Inference.Model.CausalLm draft)
    {
        try
        {
            var stats = await edge.RunReplyAsync(cancellation: _shutdown.Token);
            _logger.LogInformation("Session {Session}: drafted {Tokens} tokens in {Steps} steps ({PerStep:F2} tokens/step)", edge.SessionId, stats.Tokens, stats.Steps, stats.TokensPerStep);
        }
        catch (Exception e)
        {
            _logger.LogWarning("Session {Session}: drafting stopped ({Message}); the cluster finishes the reply", edge.SessionId, e.Message);
        }
        await ReleaseAsync(edge, link, draft, detach: true);
    }

    private async Task ReleaseAsync(EdgeSession edge, GatewayEdgeLink link, Inference.Model.CausalLm draft, bool detach)
    {
        try { if (detach) await edge.DetachAsync(); }
        catch (Exception e) { _logger.LogDebug("Session {Session}: detach failed ({Message})", edge.SessionId, e.Message); }
        edge.Dispose();
        await link.DisposeAsync();
        _drafts.Return(draft);
    }

    /// <summary>
    /// Shutdown: stops drafting, waits (10 s at most) until every reply being drafted has let go of its draft model, and
    /// only then frees the models. Freeing them under a running draft crashed the process (SIGSEGV on SIGTERM).
    /// </summary>
    public void Dispose()
    {
        _shutdown.Cancel();
        bool settled;
        try { settled = Task.WhenAll(_drafting.Keys).Wait(TimeSpan.FromSeconds(10)); }
        catch (AggregateException) { settled = true; }   // a draft that failed has let go of its model too
        if (!settled)
            _logger.LogWarning("Shutdown: {Count} replies still drafting after 10 s; their draft models are not freed", _drafting.Count);
        else _drafts.Dispose();
        _enrolment.Dispose();
    }
}
