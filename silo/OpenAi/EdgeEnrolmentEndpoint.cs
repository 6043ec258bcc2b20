using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.OpenAi;

namespace SpecEdge.Silo.OpenAi;

/// <summary>
/// <c>POST /v1/edges</c>: a tenant's service enrols an edge into one of its conversations over HTTP, so that neither
/// the service nor the edge needs an Orleans connection (which only principals trusted with every conversation get,
/// docs/security.md). Authenticated and metered as the OpenAI routes are (<see cref="OpenAiEndpoints.RunAsync"/>); the
/// id, the tenant and the edge id are checked here, before the issuer grain is called, and again by the grain.
/// </summary>
public static class EdgeEnrolmentEndpoint
{
    public const string Path = "/v1/edges";
    private static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(1);

    public static IEndpointRouteBuilder MapEdgeEnrolment(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, context => OpenAiEndpoints.RunAsync(context, async (_, caller, options) =>
        {
            var request = await OpenAiEndpoints.ReadAsync<EdgeEnrolmentRequest>(context, options)
                ?? throw OpenAiException.BadRequest("body", "The request body must be a JSON object with 'conversation' and 'edge_id'.");
            if (!ConversationId.TryParse(request.Conversation, out var id, out string error))
                throw OpenAiException.BadRequest("conversation", error);
            if (!string.Equals(id.Tenant, caller.Tenant, StringComparison.Ordinal))
                throw new OpenAiException(403, $"The conversation must be one of your tenant's: its id must be '{caller.Tenant}/name'.", "conversation", "permission_error");
            if (EdgeIds.Problem(request.EdgeId) is { } problem) throw OpenAiException.BadRequest("edge_id", problem);
            string edgeId = request.EdgeId!;
            if (request.LifetimeSeconds is <= 0)
                throw OpenAiException.BadRequest("lifetime_seconds", "The lifetime must be a positive number of seconds.");
            var lifetime = request.LifetimeSeconds is int seconds ? TimeSpan.FromSeconds(seconds) : DefaultLifetime;
            var issuer = context.RequestServices.GetRequiredService<IGrainFactory>().GetGrain<ICredentialIssuerGrain>(0);
            string credential;
            try
            {
                using (CallerCredential.Use(caller.ApiKey))
                    credential = await issuer.IssueEdgeCredentialAsync(id.ToString(), edgeId, request.Chat, lifetime);
            }
            catch (AccessDeniedException e) { throw new OpenAiException(403, e.Message, "conversation", "permission_error"); }
            catch (ArgumentException e) { throw OpenAiException.BadRequest("body", e.Message); }
            await OpenAiEndpoints.JsonAsync(context, 200, new EdgeEnrolmentResponse(credential, id.ToString(), edgeId, request.Chat));
        }));
        return app;
    }
}
