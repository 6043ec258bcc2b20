using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Conversations;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.Inference.Tokenization;
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
    ModelHost models,
    ILogger<GrainOpenAiBackend> logger) : IOpenAiBackend
{
    private readonly string[] _models = { options.Value.ModelName is { Length: > 0 } name ? name : Path.GetFileName(silo.Value.TargetModel.TrimEnd('/', '\\')) };

    public IReadOnlyList<string> ModelIds => _models;

    public ToolCallSyntax? ToolCalls => models.ChatFormat.ToolCalls;

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
        var index = new GrainConversationIndex(grains.GetGrain<IConversationIndexGrain>(caller.Tenant));
        var plan = await ConversationPlan.ForAsync(caller, job, index);
        var session = grains.GetGrain<ISessionGrain>(plan.SessionId);
        TurnStarted started;
        try
        {
            using (CallerCredential.Use(caller.ApiKey))
                started = await session.BeginTurnAsync(plan.TurnFor(job));
        }
        catch (Exception e)
        {
            await plan.UndoAsync(index);
            if (SessionRefusals.ToOpenAi(e, job) is { } refusal) throw refusal;
            throw;
        }
        logger.LogDebug("Session {Session}: {Kind} turn, {Prompt} prompt tokens of which {Cached} reused", plan.SessionId,
            plan.Continues ? "continued" : "new", started.CommittedLength, started.CachedTokens);
        return new GrainReplyRun(session, caller, job, index)
        {
            SessionId = plan.SessionId,
            PromptTokens = started.CommittedLength,
            CachedTokens = started.CachedTokens,
        };
    }
}
