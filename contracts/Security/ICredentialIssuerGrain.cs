namespace SpecEdge.Contracts.Security;

/// <summary>
/// Issues edge credentials for a backend service, so that services never hold the signing key: a service (its own
/// credential names its tenant) asks for a credential for one of its conversations and hands it to the edge it enrols.
/// </summary>
[Alias("specedge.ICredentialIssuerGrain")]
public interface ICredentialIssuerGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// A signed edge credential for <paramref name="conversationId"/> (which must belong to the caller's tenant) and
    /// <paramref name="edgeId"/>, valid for <paramref name="lifetime"/> (capped by the silo's Security:MaxEdgeLifetime).
    /// <paramref name="chat"/> also lets the edge send messages, configure and read replies of that conversation.
    /// </summary>
    [Alias("IssueEdgeCredentialAsync")]
    Task<string> IssueEdgeCredentialAsync(string conversationId, string edgeId, bool chat, TimeSpan lifetime);
}
