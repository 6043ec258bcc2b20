using Microsoft.Extensions.Options;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Grains.Conversations;

/// <summary>
/// Non-reentrant on purpose: a claim and a record of the same key never interleave, so one session is handed to one
/// request at a time. Bounded: past <see cref="SpecEdgeSiloOptions.MaxIndexedConversations"/> keys the oldest are
/// forgotten, and a key keeps at most <see cref="SessionsPerKey"/> sessions (a forgotten conversation is re-encoded on
/// its next turn, nothing worse).
/// </summary>
// Explicit, so renaming the class never moves its activations or its stored state (keys include the grain type).
[GrainType("conversationindex")]
public sealed class ConversationIndexGrain(
    [PersistentState("conversation-index", "sessions")] IPersistentState<ConversationIndexState> state,
    IOptions<SpecEdgeSiloOptions> options,
    TimeProvider clock) : Grain, IConversationIndexGrain
{
    private const int SessionsPerKey = 8;

    public async Task<string?> ClaimAsync(string key)
    {
        var entries = state.State.Entries;
        if (!entries.TryGetValue(key, out var entry)) return null;
        string session = entry.SessionIds[^1];
        if (entry.SessionIds.Length == 1) entries.Remove(key);
        else entries[key] = entry with { SessionIds = entry.SessionIds[..^1] };
        await state.WriteStateAsync();
        return session;
    }

    public async Task RecordAsync(string key, string sessionId)
    {
        var entries = state.State.Entries;
        var sessions = entries.TryGetValue(key, out var entry) ? entry.SessionIds.Where(s => s != sessionId) : Enumerable.Empty<string>();
        entries[key] = new ConversationIndexEntry(sessions.Append(sessionId).TakeLast(SessionsPerKey).ToArray(), clock.GetUtcNow().UtcDateTime);
        int limit = Math.Max(1, options.Value.MaxIndexedConversations);
        if (entries.Count > limit)
            foreach (var old in entries.OrderBy(e => e.Value.RecordedAt).Take(entries.Count - limit).Select(e => e.Key).ToList())
                entries.Remove(old);
        await state.WriteStateAsync();
    }
}
