using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Who may call what, deny by default. Silos and operators may call anything. A service may reach the conversations of
/// its tenant (ids that parse as <see cref="ConversationId"/> with that tenant) and the credential issuer. An edge may reach only the conversation its credential
/// names, and there only the methods drafting needs (plus the user's own chat methods if its credential says so).
/// A pure function, so every rule can be tested without a cluster.
/// </summary>
public static class CallPolicy
{
    /// <summary>What any edge may do on its own conversation.</summary>
    private static readonly HashSet<string> DraftingMethods = new(StringComparer.Ordinal)
    {
        nameof(ISessionGrain.AttachEdgeAsync), nameof(ISessionGrain.DetachEdgeAsync), nameof(ISessionGrain.SubmitTreeAsync),
        nameof(ISessionGrain.GetAsync),
    };

    /// <summary>What an edge that is also the user's front end (credential flag Chat) may do besides.</summary>
    private static readonly HashSet<string> ChatMethods = new(StringComparer.Ordinal)
    {
        nameof(ISessionGrain.ConfigureAsync), nameof(ISessionGrain.SendUserMessageAsync), nameof(ISessionGrain.ChatAsync),
        nameof(ISessionGrain.StreamReplyAsync), nameof(ISessionGrain.BeginTurnAsync), nameof(ISessionGrain.StopReplyAsync),
    };

    /// <summary>Null when allowed; otherwise the reason, phrased for the caller (it names nothing but the call's kind).</summary>
    public static string? Check(AccessCredential credential, CallTarget target)
    {
        switch (credential.Role)
        {
            case CredentialRole.Silo:
            case CredentialRole.Operator:
                return null;
            case CredentialRole.Service:
                if (target.Kind == CallTargetKind.ClientSystemTarget || target.Kind == CallTargetKind.CredentialIssuer) return null;
                if (target.Kind is CallTargetKind.Session or CallTargetKind.SessionReplyStream or CallTargetKind.SessionTreeChannel)
                {
                    // Parsed, then compared segment to segment: a prefix test let "tenant/../other/id" through.
                    if (!ConversationId.TryParse(target.ConversationId, out var id, out var invalid)) return invalid;
                    return credential.Tenant is { Length: > 0 } tenant && string.Equals(id.Tenant, tenant, StringComparison.Ordinal)
                        ? null : "a service may only address conversations of its own tenant";
                }
                return "this call is not open to services";
            case CredentialRole.Edge:
                if (target.Kind == CallTargetKind.ClientSystemTarget) return null;
                if (target.Kind is not (CallTargetKind.Session or CallTargetKind.SessionReplyStream or CallTargetKind.SessionTreeChannel))
                    return "this call is not open to edges";
                if (credential.ConversationId is null || !string.Equals(target.ConversationId, credential.ConversationId, StringComparison.Ordinal))
                    return "the credential is for another conversation";
                if (!ConversationId.TryParse(target.ConversationId, out _, out var malformed)) return malformed;
                return target.Kind switch
                {
                    CallTargetKind.SessionTreeChannel => null,
                    CallTargetKind.SessionReplyStream => credential.Chat ? null : "this edge may not read replies",
                    _ when DraftingMethods.Contains(target.Method) => null,
                    _ when ChatMethods.Contains(target.Method) => credential.Chat ? null : $"this edge may not call {target.Method}",
                    _ => $"edges may not call {target.Method}",
                };
            default:
                return "unknown role";
        }
    }
}
