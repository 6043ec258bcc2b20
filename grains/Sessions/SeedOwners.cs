using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// Who may read a conversation's sampling seed back. Knowing the seed predicts every sample of the conversation, so it
/// is returned only to the principal that set it and to operators (and silos), never to an edge, and never to anyone
/// when the session chose it at random. The owner is stored with the conversation as a principal name:
/// <c>service:TENANT</c>, <c>edge:CONVERSATION/EDGE</c> or <c>operator</c>.
/// </summary>
public static class SeedOwners
{
    /// <summary>The principal name of <paramref name="caller"/> (null: an in-silo call without a credential, trusted like a silo).</summary>
    public static string Of(AccessCredential? caller) => caller?.Role switch
    {
        CredentialRole.Service => "service:" + caller.Tenant,
        CredentialRole.Edge => $"edge:{caller.ConversationId}/{caller.EdgeId}",
        _ => "operator",
    };

    /// <summary>Whether <paramref name="caller"/> may read a seed set by <paramref name="owner"/> (null: chosen by the session).</summary>
    public static bool MayRead(AccessCredential? caller, string? owner) => caller?.Role switch
    {
        null or CredentialRole.Operator or CredentialRole.Silo => true,
        CredentialRole.Edge => false,
        CredentialRole.Service => owner is not null && string.Equals(owner, Of(caller), StringComparison.Ordinal),
        _ => false,
    };
}
