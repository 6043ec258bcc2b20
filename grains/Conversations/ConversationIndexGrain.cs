using Microsoft.Extensions.Options;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Grains.Conversations;

/// <summary>
/// Non-reentrant on purpose: a claim and a record of the same key never interleave, so one conversation is handed to
/// one request at a time. Bounded: past <see cref="SpecEdgeSiloOptions.MaxIndexedConversations"/> entries the oldest
/// are forgotten (a forgotten conversation is re-encoded on its next turn, nothing worse).
/// </summary>
public sealed class ConversationIndexGrain(
    [PersistentState("conversation-index", "sessions")] IPersistentState<ConversationIndexState> state,
    IOptions<SpecEdgeSiloOptions> options) : Grain, IConversationIndexGrain
{
    public async Task<string?> ClaimAsync(string key)
    {
        if (!state.State.Entries.Remove(key, out var entry)) return null;
        await state.WriteStateAsync();
        return entry.SessionId;
    }

    public async Task RecordAsync(string key, string sessionId)
    {
        var entries = state.State.Entries;
        entries[key] = new ConversationIndexEntry(sessionId, DateTime.UtcNow);
        int limit = Math.Max(1, options.Value.MaxIndexedConversations);
        if (entries.Count > limit)
            foreach (var old in entries.OrderBy(e => e.Value.RecordedAt).Take(entries.Count - limit).Select(e => e.Key).ToList())
                entries.Remove(old);
        await state.WriteStateAsync();
    }
}
