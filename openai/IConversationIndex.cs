namespace SpecEdge.OpenAi;

/// <summary>
/// Where a backend finds a conversation again: <see cref="ConversationKey"/> to the sessions holding it. A claim takes a
/// session out (so two concurrent extensions of one conversation never share a session: the second forks).
/// </summary>
public interface IConversationIndex
{
    Task<string?> ClaimAsync(string key);
    Task RecordAsync(string key, string sessionId);
}
