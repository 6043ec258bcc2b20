using SpecEdge.Grains.Conversations;
using SpecEdge.OpenAi;

namespace SpecEdge.Silo.OpenAi;

/// <summary>
/// A tenant's conversation index as a grain (persisted with the sessions, shared by every silo). Called outside any
/// caller's credential scope, so with the silo's own: clients cannot reach it.
/// </summary>
internal sealed class GrainConversationIndex(IConversationIndexGrain grain) : IConversationIndex
{
    public Task<string?> ClaimAsync(string key) => grain.ClaimAsync(key);
    public Task RecordAsync(string key, string sessionId) => grain.RecordAsync(key, sessionId);
}
