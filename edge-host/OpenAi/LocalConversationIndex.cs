using SpecEdge.OpenAi;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// The edge host's conversation index, in memory: the apps of one PC talk to one edge host, and a conversation it
/// forgets (a restart) is re-encoded on its next turn, nothing worse. Bounded like the silo's.
/// </summary>
public sealed class LocalConversationIndex(int capacity = 1000) : IConversationIndex
{
    private readonly object _gate = new();
    private readonly Dictionary<string, List<string>> _sessions = new(StringComparer.Ordinal);
    private readonly LinkedList<string> _order = new();

    public Task<string?> ClaimAsync(string key)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(key, out var sessions)) return Task.FromResult<string?>(null);
            string session = sessions[^1];
            sessions.RemoveAt(sessions.Count - 1);
            if (sessions.Count == 0) { _sessions.Remove(key); _order.Remove(key); }
            return Task.FromResult<string?>(session);
        }
    }

    public Task RecordAsync(string key, string sessionId)
    {
        lock (_gate)
        {
            if (!_sessions.TryGetValue(key, out var sessions)) _sessions[key] = sessions = new List<string>();
            sessions.Remove(sessionId);
            sessions.Add(sessionId);
            _order.Remove(key);
            _order.AddLast(key);
            while (_order.Count > capacity) { _sessions.Remove(_order.First!.Value); _order.RemoveFirst(); }
        }
        return Task.CompletedTask;
    }
}
