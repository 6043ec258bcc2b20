using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Inference.Speculative;
using SpecEdge.OpenAi;
using SpecEdge.EdgeClient;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// The edge host's backend of the OpenAI-compatible API (<c>--serve</c>): the same requests and replies as the silo's
/// endpoint, with the drafting done on this PC. Local apps present the key in <see cref="EdgeHostOptions.ServeKeyFile"/>;
/// the cluster is called under this host's own credential, which must be a service's (it creates conversations of its
/// tenant, and the silo checks every call against it). While a reply is drafted here, this host is its attached edge;
/// the text comes from the session's reply stream, so it is byte for byte what the silo's endpoint returns.
/// </summary>
public sealed class EdgeOpenAiBackend : IOpenAiBackend, IDisposable
{
    private readonly IClusterClient _client;
    private readonly EdgeHostOptions _o;
    private readonly ILogger<EdgeOpenAiBackend> _logger;
    private readonly LocalApiKey _key;
    private readonly string _tenant;
    private readonly string[] _models;
    private readonly DraftPool _drafts;
    private readonly LocalConversationIndex _index = new();

    public EdgeOpenAiBackend(IClusterClient client, IOptions<EdgeHostOptions> options, IOptions<ClientCredentialOptions> credential,
        IOptions<OpenAiOptions> api, ILogger<EdgeOpenAiBackend> logger)
    {
        _client = client;
        _o = options.Value;
        _logger = logger;
        _key = new LocalApiKey(_o.ServeKeyFile);
        string? token = credential.Value.TokenFile is { Length: > 0 } file ? File.ReadAllText(file).Trim() : credential.Value.Token;
        // Read, not verified: only the silo can verify it, and does so on every call. The tenant names new conversations.
        var claims = token is null ? null : CredentialCodec.ReadUnverified(token);
        if (claims is not { Role: CredentialRole.Service, Tenant: { Length: > 0 } tenant })
            throw new InvalidOperationException("--serve needs a service credential (Credential:TokenFile / --credential-file): serving creates conversations of the service's tenant.");
        _tenant = tenant;
        _models = new[] { api.Value.ModelName is { Length: > 0 } name ? name : "specedge" };
        if (_o.Threads > 0) TorchSharp.torch.set_num_threads(_o.Threads);
        _drafts = new DraftPool(_o.DraftModel, _o.DType, _o.Device, _o.ServeDraftSlots);
        logger.LogInformation("Serving model {Model} for tenant {Tenant}: {Slots} draft slot(s) of {Draft}; local API key in {KeyFile}",
            _models[0], _tenant, Math.Max(1, _o.ServeDraftSlots), _o.DraftModel, _key.Path);
    }

    public IReadOnlyList<string> ModelIds => _models;

    public OpenAiCaller Authenticate(string apiKey) =>
        _key.Matches(apiKey) ? new OpenAiCaller(apiKey, _tenant)
            : throw new OpenAiException(401, "Incorrect API key provided: use the key in the edge host's Edge:ServeKeyFile.", code: "invalid_api_key");

    public async Task<ReplyRun> StartAsync(OpenAiCaller caller, ReplyJob job, CancellationToken cancellationToken)
    {
        var plan = await ConversationPlan.ForAsync(caller, job, _index);
        var session = _client.GetGrain<ISessionGrain>(plan.SessionId);
        var draft = _drafts.TryTake();
        EdgeSession? edge = null;
        TurnStarted started;
        try
        {
            if (draft is null)
            {
                started = await session.BeginTurnAsync(plan.TurnFor(job));
            }
            else
            {
                var tree = _o.Tree();
                edge = new EdgeSession(_client, draft, plan.SessionId, _o.EdgeId ?? "edge-serve", tree, capacity: 4096, _o.Transport);
                // Attached before the turn starts, so the cluster leaves the drafting to this host from the first step.
                await edge.AttachAsync();
                started = await edge.BeginTurnAsync(plan.TurnFor(job));
            }
        }
        catch (Exception e)
        {
            if (edge is not null) await ReleaseAsync(edge, draft!, detach: true);
            else if (draft is not null) _drafts.Return(draft);
            await plan.UndoAsync(_index);
            if (SessionRefusals.ToOpenAi(e, job) is { } refusal) throw refusal;
            throw;
        }
        var drafting = edge is null ? Task.CompletedTask : Task.Run(() => DraftAsync(edge, draft!));
        return new EdgeReplyRun(session, drafting, text => ConversationPlan.RecordReplyAsync(_index, caller, job, plan.SessionId, text))
        {
            SessionId = plan.SessionId,
            PromptTokens = started.CommittedLength,
            CachedTokens = started.CommittedLength - started.AppendedTokens.Length,
        };
    }

    /// <summary>Drafts the reply to its end; if the cluster is lost meanwhile, the session's lease hands the reply to the server.</summary>
    private async Task DraftAsync(EdgeSession edge, Inference.Model.CausalLm draft)
    {
        try
        {
            var stats = await edge.RunReplyAsync();
            _logger.LogInformation("Session {Session}: drafted {Tokens} tokens in {Steps} steps ({PerStep:F2} tokens/step)", edge.SessionId, stats.Tokens, stats.Steps, stats.TokensPerStep);
        }
        catch (Exception e)
        {
            _logger.LogWarning("Session {Session}: drafting stopped ({Message}); the cluster finishes the reply", edge.SessionId, e.Message);
        }
        await ReleaseAsync(edge, draft, detach: true);
    }

    private async Task ReleaseAsync(EdgeSession edge, Inference.Model.CausalLm draft, bool detach)
    {
        try { if (detach) await edge.DetachAsync(); }
        catch (Exception e) { _logger.LogDebug("Session {Session}: detach failed ({Message})", edge.SessionId, e.Message); }
        edge.Dispose();
        _drafts.Return(draft);
    }

    public void Dispose() => _drafts.Dispose();
}
