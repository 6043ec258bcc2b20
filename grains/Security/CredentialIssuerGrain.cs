using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Signs edge credentials for services (and operators). The tenant comes from the caller's verified credential, so a
/// service can only enrol edges into its own conversations.
/// </summary>
[StatelessWorker]
// Explicit, so renaming the class never moves its activations or its stored state (keys include the grain type).
[GrainType("credentialissuer")]
public sealed class CredentialIssuerGrain(SigningKeys keys, IOptions<SecurityOptions> options, TimeProvider clock) : Grain, ICredentialIssuerGrain
{
    public Task<string> IssueEdgeCredentialAsync(string conversationId, string edgeId, bool chat, TimeSpan lifetime)
    {
        // Parsed before anything else: the credential names exactly this id, and its tenant is a segment, not a prefix.
        var id = ConversationId.Parse(conversationId, nameof(conversationId));
        if (EdgeIds.Problem(edgeId) is { } problem) throw new ArgumentException(problem, nameof(edgeId));
        if (lifetime <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(lifetime), "The lifetime must be positive.");
        var caller = VerifiedCaller.Current ?? throw new AccessDeniedException("no credential was presented");
        string tenant = caller.Role switch
        {
            CredentialRole.Service => caller.Tenant ?? throw new AccessDeniedException("the service credential names no tenant"),
            CredentialRole.Operator or CredentialRole.Silo => id.Tenant,
            _ => throw new AccessDeniedException("only services issue edge credentials"),
        };
        if (!string.Equals(id.Tenant, tenant, StringComparison.Ordinal))
            throw new AccessDeniedException("a service may only enrol edges into conversations of its own tenant");
        conversationId = id.ToString();
        if (lifetime > options.Value.MaxEdgeLifetime) lifetime = options.Value.MaxEdgeLifetime;
        return Task.FromResult(CredentialCodec.Sign(new AccessCredential
        {
            Role = CredentialRole.Edge, Tenant = tenant, ConversationId = conversationId, EdgeId = edgeId, Chat = chat,
            ExpiresAt = (clock.GetUtcNow() + lifetime).ToUnixTimeSeconds(),
        }, keys.Value));
    }
}
