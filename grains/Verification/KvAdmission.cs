namespace SpecEdge.Grains.Verification;

/// <summary>
/// The hard KV budget of a device as a rule: which idle caches to evict, least recently used first, so that one more
/// conversation fits. Caches that are busy (queued or in the forward running now) or hold a reply in progress (unless
/// abandoned) are never evicted; when nothing evictable is left and one more still does not fit, the new conversation
/// is refused "at capacity" before any work is done for it. Plain data in and out, so it is tested without a device.
/// </summary>
public static class KvAdmission
{
    /// <summary>A cache the device holds: whether it may be evicted now, and its least-recently-used order (smaller is older).</summary>
    public readonly record struct Resident(string SessionId, bool Evictable, long LastUse);

    /// <summary>The sessions whose caches to evict (in order) so that one more cache of <paramref name="perSequence"/> bytes fits <paramref name="budget"/>.</summary>
    /// <exception cref="VerifierBusyException">Every remaining cache is busy or holds a reply in progress, and one more does not fit.</exception>
    public static IReadOnlyList<string> Victims(IReadOnlyCollection<Resident> residents, long perSequence, long budget)
    {
        var victims = new List<string>();
        var evictable = new Queue<Resident>(residents.Where(r => r.Evictable).OrderBy(r => r.LastUse));
        int held = residents.Count;
        while (held > 0 && (held + 1) * perSequence > budget)
        {
            if (!evictable.TryDequeue(out var victim))
                throw new VerifierBusyException($"The server is at capacity ({held} replies are in progress on this device); try again shortly.");
            victims.Add(victim.SessionId);
            held--;
        }
        return victims;
    }
}
