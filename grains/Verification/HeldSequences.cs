using Microsoft.Extensions.Logging;
using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// The conversations one verifier holds, a target sequence each, under the hard KV budget: admitted after the least
/// recently used idle caches make room (a reply in progress is never evicted; when only those are left, a new one is
/// refused "at capacity"), and forgotten so that the session rebuilds from its durable tokens whenever the two disagree.
/// The device's prefix cache gets what the held caches leave of the budget. Grain thread only.
/// </summary>
public sealed class HeldSequences(VerifierScheduler scheduler, DeviceRunner device, SpecEdgeSiloOptions options, string verifier, ILogger logger)
{
    private readonly Dictionary<string, TargetSequence> _sequences = new();
    private long BudgetBytes => (long)options.KvMemoryMb << 20;

    public int Count => _sequences.Count;
    /// <summary>KV bytes the held sequences' caches use now.</summary>
    public long CacheBytes => _sequences.Values.Sum(s => s.Cache.Bytes);
    /// <summary>Idle caches evicted to make room since activation.</summary>
    public int Evictions { get; private set; }

    /// <summary>The session's sequence, or <see cref="SessionNotLoadedException"/> (the session then reopens it).</summary>
    public TargetSequence Get(string sessionId)
    {
        if (!_sequences.TryGetValue(sessionId, out var sequence))
            throw new SessionNotLoadedException($"The verifier holds no sequence for session '{sessionId}'.");
        scheduler.Touch(sessionId);
        return sequence;
    }

    /// <summary>Holds <paramref name="sequence"/> for the session; call <see cref="MakeRoom"/> first.</summary>
    public void Add(string sessionId, TargetSequence sequence)
    {
        _sequences[sessionId] = sequence;
        SizePrefixCache();
        scheduler.Touch(sessionId);
    }

    /// <summary>Lets go of everything (deactivation): the caller frees the returned sequences on the device thread.</summary>
    public List<TargetSequence> TakeAll()
    {
        var all = _sequences.Values.ToList();
        _sequences.Clear();
        return all;
    }

    /// <summary>
    /// The prefix cache may hold what the KV budget leaves free beside the held caches (each counted at full capacity, as
    /// admission counts them). Set whenever the sequences change; the cache trims itself on the device thread before its
    /// next use, which is the prefill of the sequence just admitted.
    /// </summary>
    public void SizePrefixCache() => device.SizePrefixCaches(BudgetBytes - _sequences.Count * device.BytesPerSequence);

    /// <summary>The share of the KV budget idle caches make way for, so the prefix cache keeps room (0 without one).</summary>
    private long PrefixReserveBytes => device.Prefixes is null ? 0 : (long)(BudgetBytes * options.PrefixCacheShare);

    /// <summary>Evicts least-recently-used idle caches until one more fits the KV budget (<see cref="VerifierScheduler.Victims"/>), or refuses "at capacity".</summary>
    public void MakeRoom()
    {
        IReadOnlyList<string> victims;
        try
        {
            victims = scheduler.Victims(_sequences.Select(kv => (kv.Key, kv.Value.Finished)), device.BytesPerSequence, PrefixReserveBytes);
        }
        catch (VerifierBusyException)
        {
            // Hard budget: every cache holds a reply in progress, so admitting one more would exceed the memory we may use.
            logger.LogWarning("Verifier {Key}: KV budget of {Mb} MB full ({Count} replies in progress); refusing a new sequence", verifier, options.KvMemoryMb, _sequences.Count);
            throw;
        }
        foreach (var victim in victims)
        {
            Forget(victim);
            Evictions++;
            logger.LogInformation("Verifier {Key} evicted the KV cache of session {Session} (budget {Mb} MB)", verifier, victim, options.KvMemoryMb);
        }
    }

    /// <summary>Forgets a session's sequence so that its next call rebuilds it from the session's durable state.</summary>
    public SessionNotLoadedException Drop(string sessionId, string why)
    {
        logger.LogWarning("Verifier {Key}: {Why}; dropping the sequence so the session rebuilds it", verifier, why);
        Forget(sessionId);
        return new SessionNotLoadedException(why);
    }

    /// <summary>Drops a session's sequence only if it is still <paramref name="sequence"/> (not one re-opened meanwhile).</summary>
    public void DropIfCurrent(string sessionId, TargetSequence sequence, string why)
    {
        if (_sequences.TryGetValue(sessionId, out var current) && ReferenceEquals(current, sequence)) Drop(sessionId, why);
    }

    /// <summary>
    /// Forgets a session's target sequence and server draft state. Its queued work fails (the session rebuilds from
    /// durable state). The tensors are freed on the device thread, after the forward in progress: a session may re-open
    /// while a step of its own is still running (its call timed out under load), and freeing a cache from this thread in
    /// the middle of that forward corrupts it (seen in the soak as a batch failing inside libtorch).
    /// </summary>
    public void Forget(string sessionId)
    {
        foreach (var stale in scheduler.Forget(sessionId))
            stale.Done.TrySetException(new SessionNotLoadedException($"The verifier's sequence of session '{sessionId}' was replaced while this step waited."));
        _sequences.Remove(sessionId, out var sequence);
        // Device thread, in order: later batches of this session (with a new sequence) come after this.
        device.Release(sessionId, sequence);
        SizePrefixCache();
    }
}
