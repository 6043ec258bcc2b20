namespace SpecEdge.Contracts.Security;

/// <summary>
/// Body of <c>POST /v1/edges</c> on a silo's HTTP API: a tenant's service (its API key is its service credential)
/// enrols one edge into one conversation of its own, without an Orleans connection. JSON names are snake_case.
/// </summary>
/// <param name="Conversation">The conversation id, <c>tenant/name</c> (<see cref="ConversationId"/>), of the caller's tenant.</param>
/// <param name="EdgeId">The edge's name in logs and snapshots: 1 to 128 printable ASCII characters.</param>
/// <param name="Chat">Whether the edge may also send the conversation's messages and read them (not only draft).</param>
/// <param name="LifetimeSeconds">How long the credential lasts; capped by <c>Security:MaxEdgeLifetime</c>. Default one hour.</param>
public sealed record EdgeEnrolmentRequest(string? Conversation, string? EdgeId, bool Chat = false, int? LifetimeSeconds = null);

/// <summary>The answer: the signed edge credential (what the edge presents to the edge gateway) and what it names.</summary>
public sealed record EdgeEnrolmentResponse(string Credential, string Conversation, string EdgeId, bool Chat);
