namespace SpecEdge.Grains.Conversations;

/// <summary>
/// One tenant's index from conversation keys (a hash of the messages exactly as the OpenAI-compatible API returned them)
/// to the session that holds that conversation, so a stateless request that extends it continues the session instead of
/// re-encoding it. Silo-internal: the key is the verified tenant, and clients are refused by the call policy (it is not
/// a session interface).
/// </summary>
[Alias("specedge.IConversationIndexGrain")]
public interface IConversationIndexGrain : IGrainWithStringKey
{
    /// <summary>
    /// Takes the session for <paramref name="key"/> out of the index, or null. Taking (not reading) is what makes two
    /// concurrent extensions of one conversation fork: only one of them gets the session, the other starts a new one.
    /// </summary>
    [Alias("ClaimAsync")]
    Task<string?> ClaimAsync(string key);

    /// <summary>Records that <paramref name="sessionId"/> holds the conversation <paramref name="key"/> (after a reply, or to undo a claim).</summary>
    [Alias("RecordAsync")]
    Task RecordAsync(string key, string sessionId);
}
