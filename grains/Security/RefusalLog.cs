using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Logs refused calls at warning level at most once per caller per <see cref="Interval"/>, with the number refused since
/// the last line and no stack trace. Every refusal used to log on its own, so a hostile caller controlled the log's
/// volume; now it controls one line per interval. Callers are keyed by what their credential proves (role, tenant,
/// conversation, edge) or, without a valid one, by the kind of failure.
/// </summary>
public sealed partial class RefusalLog(ILogger<RefusalLog> logger, TimeProvider? time = null)
{
    /// <summary>How often one caller's refusals are logged at most.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);
    private const int PruneAbove = 10_000;

    private sealed class Entry
    {
        public long LastLogged;
        public int Suppressed;
    }

    private readonly ConcurrentDictionary<string, Entry> _callers = new(StringComparer.Ordinal);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Records one refusal of <paramref name="caller"/>; logs it if this caller has not been logged within the interval.</summary>
    /// <returns>True when a line was written (tests read this).</returns>
    public bool Refused(string caller, string call, string reason)
    {
        long now = _time.GetTimestamp();
        long interval = (long)(Interval.TotalSeconds * _time.TimestampFrequency);
        if (_callers.Count > PruneAbove) Prune(now, interval);
        var entry = _callers.GetOrAdd(caller, _ => new Entry { LastLogged = now - interval - 1 });
        int suppressed;
        lock (entry)
        {
            if (now - entry.LastLogged <= interval) { entry.Suppressed++; return false; }
            suppressed = entry.Suppressed;
            entry.Suppressed = 0;
            entry.LastLogged = now;
        }
        LogRefused(caller, call, reason, suppressed);
        return true;
    }

    private void Prune(long now, long interval)
    {
        foreach (var (key, entry) in _callers)
            if (now - Volatile.Read(ref entry.LastLogged) > interval) _callers.TryRemove(key, out _);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Call} from {Caller}: {Reason} ({Suppressed} more refusals of this caller since its last line)")]
    private partial void LogRefused(string caller, string call, string reason, int suppressed);
}
