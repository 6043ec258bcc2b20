using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Conversations;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.OpenAi;

namespace SpecEdge.Silo.OpenAi;

/// <summary>
/// The silo's backend of the OpenAI-compatible API. An API key is a signed service credential (the same tokens Orleans
/// clients present, verified with the silo's signing keys); every session call runs under it (<see cref="CallerCredential.Use"/>),
/// so the grain-side <see cref="CallAuthorizationFilter"/> decides exactly as for an Orleans client. Conversations are
/// found again through the tenant's <see cref="IConversationIndexGrain"/>, which only this silo code calls.
/// </summary>
public sealed class GrainOpenAiBackend(
    IGrainFactory grains,
    VerifiedCredentials credentials,
    IOptions<OpenAiOptions> options,
    IOptions<SpecEdgeSiloOptions> silo,
    ILogger<GrainOpenAiBackend> logger) : IOpenAiBackend
{
    private readonly string[] _models = { options.Value.ModelName is { Length: > 0 } name ? name : Path.GetFileName(silo.Value.TargetModel.TrimEnd('/', '\\')) };

    public IReadOnlyList<string> ModelIds => _models;

    public OpenAiCaller Authenticate(string apiKey)
    {
        if (!credentials.TryVerify(apiKey, out var credential, out string error))
            throw new OpenAiException(401, $"Incorrect API key provided: {error}.", code: "invalid_api_key");
        // Only a service speaks for a tenant and may create its conversations; edge credentials name one conversation.
        if (credential!.Role != CredentialRole.Service || credential.Tenant is not { Length: > 0 } tenant)
            throw new OpenAiException(401, "Incorrect API key provided: the key is not a service credential.", code: "invalid_api_key");
        return new OpenAiCaller(apiKey, tenant);
    }

    public async Task<ReplyRun> StartAsync(OpenAiCaller caller, ReplyJob job, CancellationToken cancellationToken)
    {
        string prefix = AccessCredential.TenantPrefix(caller.Tenant);
        var index = grains.GetGrain<IConversationIndexGrain>(caller.Tenant);
        string? claimedKey = null;
        string sessionId;
        IReadOnlyList<ChatTurn> history = Array.Empty<ChatTurn>();
        if (job.SessionId is { } named)
        {
            if (!named.StartsWith(prefix, StringComparison.Ordinal))
                throw new OpenAiException(403, $"The session must be one of your tenant's: its id must start with '{prefix}'.", "session", "permission_error");
            sessionId = named;
        }
        else if (job.IsChat && job.Turns.Count > 1)
        {
            var earlier = job.Turns.Take(job.Turns.Count - 1).ToArray();
            string key = ConversationKey.Of(caller.Tenant, job.Model, job.Settings.SystemPrompt, earlier);
            if (await index.ClaimAsync(key) is { } claimed)
            {
                (sessionId, claimedKey) = (claimed, key);
            }
            else
            {
                sessionId = NewSessionId(prefix);
                history = earlier;
            }
        }
        else
        {
            sessionId = NewSessionId(prefix);
        }

        var session = grains.GetGrain<ISessionGrain>(sessionId);
        TurnStarted started;
        try
        {
            using (CallerCredential.Use(caller.ApiKey))
                started = await session.BeginTurnAsync(new TurnRequest { Settings = job.Settings, History = history.ToArray(), Text = job.Text });
        }
        catch (Exception e)
        {
            // The conversation was not extended: give it back, so the next request that carries it still finds it.
            if (claimedKey is not null) await index.RecordAsync(claimedKey, sessionId);
            if (SessionErrors.ToOpenAi(e, job) is { } refusal) throw refusal;
            throw;
        }
        logger.LogDebug("Session {Session}: {Kind} turn, {Prompt} prompt tokens of which {Cached} reused", sessionId,
            claimedKey is not null ? "continued" : "new", started.CommittedLength, started.CommittedLength - started.AppendedTokens.Length);
        return new GrainReplyRun(session, caller, job, index)
        {
            SessionId = sessionId,
            PromptTokens = started.CommittedLength,
            CachedTokens = started.CommittedLength - started.AppendedTokens.Length,
        };
    }

    private static string NewSessionId(string prefix) => prefix + "oa-" + Guid.NewGuid().ToString("N");
}
