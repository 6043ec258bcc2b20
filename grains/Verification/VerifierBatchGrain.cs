using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Placement;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// Batches verification work of many sessions onto one device. Reentrant: while a forward runs on a worker thread,
/// new requests keep arriving and queue up; when the forward ends, everything queued (up to MaxBatch) goes into the
/// next one. It never waits for a batch to fill. The KV caches are plain fields: they die with the activation and are
/// rebuilt from the sessions' persisted tokens. Whenever this verifier and a session disagree (step, length, a failed
/// item), it drops its copy and answers <see cref="SessionNotLoadedException"/>: the session rebuilds it from durable state.
/// Limits: a hard KV budget, a bounded queue, and a deadline for queued work. The budget is admission control by reply:
/// a sequence whose reply is in progress is never evicted (evicting it between steps would make it fight its way back
/// in for every step, and under load fail its reply), so a new sequence that does not fit and finds no cache without a
/// reply in progress to evict is refused with "at capacity" before any work is done for it.
/// </summary>
[SiloPinnedPlacement, Reentrant]
// Explicit, so renaming the class never moves its activations or its stored state (keys include the grain type).
[GrainType("verifierbatch")]
public sealed class VerifierBatchGrain(ModelHost models, ILocalSiloDetails silo, TimeProvider time, ILogger<VerifierBatchGrain> logger) : Grain, IVerifierBatchGrain
{
    /// <summary>Work waiting for the device. <see cref="ServerDrafted"/>: the tree is drafted by the server on the device thread, just before the forward.
    /// <see cref="FromEdge"/>: an edge's tree (what pipeline-aware batching schedules).</summary>
    private sealed record Pending(string SessionId, TargetWork Work, TaskCompletionSource<Executed> Done, DateTime Enqueued, bool ServerDrafted = false, bool FromEdge = false);

    /// <summary>
    /// A verdict with the device time of its forward, how long it waited for the device, and the verifier's load when it
    /// ran (trees in the forward, steps still queued), which an adaptive edge sizes its next tree to.
    /// </summary>
    private readonly record struct Executed(VerdictMessage Verdict, double ForwardMs, double QueueMs, int BatchSize, int QueueLength);

    private readonly Dictionary<string, TargetSequence> _sequences = new();
    /// <summary>When each sequence was last used: the order (least recently used is evicted first) and the time.</summary>
    private readonly Dictionary<string, (long Order, DateTime At)> _lastUse = new();
    /// <summary>
    /// A sequence with a reply in progress but no step for this long is treated as abandoned (its session is gone
    /// without closing it) and may be evicted; live replies step far more often (an edge's lease is seconds).
    /// </summary>
    private static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(30);
    private readonly List<Pending> _queue = new();
    /// <summary>How many statistics of recent forwards are kept (older ones only count).</summary>
    public const int RecentForwards = 4096;
    private readonly RecentWindow<int> _batchSizes = new(RecentForwards);
    private readonly RecentWindow<double> _forwardMs = new(RecentForwards);
    /// <summary>When each recent forward started (Unix microseconds): with <see cref="_forwardMs"/>, when the device was busy.</summary>
    private readonly RecentWindow<long> _forwardStarts = new(RecentForwards);
    /// <summary>Used only under <see cref="BatchingPolicy.PipelineAware"/>; fed either way (cheap), so switching needs no warm-up.</summary>
    private readonly PipelineBatchPlanner _planner = new();
    private List<Pending> _running = new();
    /// <summary>The device: target, server drafters, device thread. This grain schedules; the runner computes.</summary>
    private DeviceRunner _device = null!;
    private VerifierKey _key;
    private bool _flushing;
    private long _clock;
    /// <summary>Wall time from the injected clock (queue deadlines, abandonment, the planner's window).</summary>
    private DateTime Now => time.GetUtcNow().UtcDateTime;
    private int _evictions;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = VerifierKey.Parse(this.GetPrimaryKeyString());
        if (_key.Device < 0 || _key.Device >= models.DeviceCount)
            throw new InvalidOperationException($"Verifier device {_key.Device}: this silo has {models.DeviceCount} device(s).");
        _device = new DeviceRunner(models, _key.Device, logger);
        logger.LogInformation("Verifier {Key} active (max batch {MaxBatch}, KV budget {Mb} MB)", _key, models.Options.MaxBatch, models.Options.KvMemoryMb);
        ReportMetrics();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var sequences = _sequences.Values.ToList();
        _sequences.Clear();
        SpecEdgeMetrics.ForgetVerifier(_key.ToString());
        // On the device thread, after any forward still running (see Forget).
        await _device.ReleaseAllAsync(sequences).WaitAsync(cancellationToken).ContinueWith(_ => { });
    }

    public async Task OpenAsync(string sessionId, SequenceSnapshot snapshot)
    {
        Forget(sessionId);
        MakeRoom();
        var s = snapshot.Settings;
        var cache = _device.Model.NewCache(models.Options.MaxContextTokens);
        var sequence = new TargetSequence(cache, snapshot.Committed, snapshot.ReplyStart,
            Sampling(s), models.StopCriteria(s.MaxNewTokens, s.StopStrings), snapshot.Step) { MaxTreeNodes = models.Options.MaxTreeNodes };
        _sequences[sessionId] = sequence;
        Touch(sessionId);
        await Enqueue(sessionId, new PrefillWork(sequence));
    }

    public async Task StartTurnAsync(string sessionId, int[] appended, GenerationSettings settings, int expectedCommitted)
    {
        var sequence = Get(sessionId);
        if (sequence.Committed.Count != expectedCommitted)
            throw new SessionNotLoadedException($"Verifier holds {sequence.Committed.Count} tokens of session '{sessionId}', the session {expectedCommitted}.");
        if (sequence.Committed.Count + appended.Length + 1 > sequence.Cache.Capacity)
            throw new InvalidOperationException($"The conversation would exceed {sequence.Cache.Capacity} tokens (MaxContextTokens).");
        sequence.StartTurn(appended, models.StopCriteria(settings.MaxNewTokens, settings.StopStrings), Sampling(settings));
        await Enqueue(sessionId, new PrefillWork(sequence));
    }

    public async Task<StepVerdict> VerifyAsync(TreeSubmission tree)
    {
        var sequence = Get(tree.SessionId);
        // The session checked step and length against its own durable state before calling: a disagreement here means
        // this copy is stale (e.g. ahead after a failed state write), not that the tree is bad. Rebuild, don't refuse.
        if (tree.Step != sequence.Step || tree.CommittedLength != sequence.Committed.Count)
            throw Drop(tree.SessionId, $"Verifier is at step {sequence.Step} with {sequence.Committed.Count} tokens of session '{tree.SessionId}', the session at step {tree.Step} with {tree.CommittedLength}.");
        // Validate before queueing: a bad tree fails alone and never reaches a batch.
        var message = new DraftMessage(tree.Step, tree.CommittedLength, tree.Tokens, tree.Parents);
        sequence.Validate(message, _device.Model.Config.VocabSize);
        var executed = await Enqueue(tree.SessionId, new VerifyWork(sequence, message), fromEdge: true);
        return Outcome(tree.SessionId, sequence, executed);
    }

    public async Task<StepVerdict> DecodeAsync(string sessionId, long step)
    {
        var sequence = Get(sessionId);
        if (sequence.Step != step) throw Drop(sessionId, $"Verifier is at step {sequence.Step} of session '{sessionId}', the session at {step}.");
        if (sequence.Finished) throw new InvalidOperationException($"Session '{sessionId}' has no reply in progress.");
        var executed = await Enqueue(sessionId, new DecodeWork(sequence), serverDrafted: models.HasServerDraft);
        return Outcome(sessionId, sequence, executed);
    }

    public Task CloseAsync(string sessionId)
    {
        Forget(sessionId);
        ReportMetrics();
        return Task.CompletedTask;
    }

    public Task<VerifierStats> GetStatsAsync() => Task.FromResult(new VerifierStats(_key.ToString(), _batchSizes.Total,
        _batchSizes.ToArray(), _sequences.Count, _sequences.Values.Sum(s => s.Cache.Bytes), silo.Name, _evictions, _forwardMs.ToArray(), _forwardStarts.ToArray()));

    /// <summary>The verdict as the session receives it; the timing carries the verifier's part (the session adds its own).</summary>
    private static StepVerdict Outcome(string sessionId, TargetSequence sequence, Executed e) =>
        new(sessionId, e.Verdict.Step, e.Verdict.AcceptedTokens, e.Verdict.Finished, e.Verdict.Finished ? ToReplyFinish(sequence.Finish) : null, e.ForwardMs,
            e.BatchSize, e.QueueLength, new StepTiming(0, (int)(e.QueueMs * 1000), (int)(e.ForwardMs * 1000), 0, 0));

    private static ReplyFinish ToReplyFinish(FinishReason reason) => reason switch
    {
        FinishReason.EndOfSequence => ReplyFinish.EndOfSequence,
        FinishReason.MaxTokens => ReplyFinish.MaxTokens,
        FinishReason.StopString => ReplyFinish.StopString,
        FinishReason.ContextFull => ReplyFinish.ContextFull,
        _ => throw new InvalidOperationException($"A finished sequence reported finish reason {reason}."),
    };

    /// <summary>The session resolves its seed before any work reaches a verifier; a missing one is a bug, not a default.</summary>
    private static SamplingParams Sampling(GenerationSettings s) => new(s.Temperature, s.TopK, s.TopP,
        s.Seed ?? throw new InvalidOperationException("Generation settings reached the verifier without a resolved seed."));

    /// <summary>Forgets a session's sequence so that its next call rebuilds it from the session's durable state.</summary>
    private SessionNotLoadedException Drop(string sessionId, string why)
    {
        logger.LogWarning("Verifier {Key}: {Why}; dropping the sequence so the session rebuilds it", _key, why);
        Forget(sessionId);
        return new SessionNotLoadedException(why);
    }

    /// <summary>
    /// Forgets a session's target sequence and server draft state. Its queued work fails (the session rebuilds from
    /// durable state). The tensors are freed on the device thread, after the forward in progress: a session may re-open
    /// while a step of its own is still running (its call timed out under load), and freeing a cache from this thread in
    /// the middle of that forward corrupts it (seen in the soak as a batch failing inside libtorch).
    /// </summary>
    private void Forget(string sessionId)
    {
        foreach (var stale in _queue.Where(p => p.SessionId == sessionId).ToList())
        {
            _queue.Remove(stale);
            stale.Done.TrySetException(new SessionNotLoadedException($"The verifier's sequence of session '{sessionId}' was replaced while this step waited."));
        }
        _sequences.Remove(sessionId, out var sequence);
        _lastUse.Remove(sessionId);
        _planner.Forget(sessionId);
        // Device thread, in order: later batches of this session (with a new sequence) come after this.
        _device.Release(sessionId, sequence);
    }

    /// <summary>Drops a session's sequence only if it is still <paramref name="sequence"/> (not one re-opened meanwhile).</summary>
    private void DropIfCurrent(string sessionId, TargetSequence sequence, string why)
    {
        if (_sequences.TryGetValue(sessionId, out var current) && ReferenceEquals(current, sequence)) Drop(sessionId, why);
    }

    private TargetSequence Get(string sessionId)
    {
        if (!_sequences.TryGetValue(sessionId, out var sequence))
            throw new SessionNotLoadedException($"The verifier holds no sequence for session '{sessionId}'.");
        Touch(sessionId);
        return sequence;
    }

    private void Touch(string sessionId) => _lastUse[sessionId] = (++_clock, Now);

    /// <summary>Evicts least-recently-used idle caches until one more fits the KV budget (<see cref="KvAdmission"/>), or refuses "at capacity".</summary>
    private void MakeRoom()
    {
        // Never evict a sequence that is queued or inside the forward running right now, nor one whose reply is in
        // progress (unless abandoned): only caches between replies make room.
        var busy = _queue.Concat(_running).Select(p => p.SessionId).ToHashSet();
        var now = Now;
        var residents = _sequences.Select(kv => new KvAdmission.Resident(kv.Key,
            !busy.Contains(kv.Key) && (kv.Value.Finished || now - _lastUse.GetValueOrDefault(kv.Key).At > AbandonedAfter),
            _lastUse.GetValueOrDefault(kv.Key).Order)).ToList();
        IReadOnlyList<string> victims;
        try
        {
            victims = KvAdmission.Victims(residents, _device.BytesPerSequence, (long)models.Options.KvMemoryMb << 20);
        }
        catch (VerifierBusyException)
        {
            // Hard budget: every cache holds a reply in progress, so admitting one more would exceed the memory we may use.
            logger.LogWarning("Verifier {Key}: KV budget of {Mb} MB full ({Count} replies in progress); refusing a new sequence", _key, models.Options.KvMemoryMb, _sequences.Count);
            throw;
        }
        foreach (var victim in victims)
        {
            Forget(victim);
            _evictions++;
            logger.LogInformation("Verifier {Key} evicted the KV cache of session {Session} (budget {Mb} MB)", _key, victim, models.Options.KvMemoryMb);
        }
    }

    private void ReportMetrics() => SpecEdgeMetrics.ReportVerifier(_key.ToString(), _queue.Count,
        _sequences.Values.Sum(s => s.Cache.Bytes), (long)models.Options.KvMemoryMb << 20);

    private Task<Executed> Enqueue(string sessionId, TargetWork work, bool serverDrafted = false, bool fromEdge = false)
    {
        // One step at a time per sequence. A step of a sequence that was replaced meanwhile (re-opened) may still be
        // running: it works on the old, forgotten cache and does not hold the new one back.
        if (_queue.Any(p => p.SessionId == sessionId) || _running.Any(p => p.SessionId == sessionId && ReferenceEquals(p.Work.Sequence, work.Sequence)))
            throw new InvalidOperationException($"Session '{sessionId}' already has a step in progress.");
        if (_queue.Count >= models.Options.MaxQueuedSteps)
            throw new VerifierBusyException($"The server is at capacity ({_queue.Count} steps waiting); try again shortly.");
        var pending = new Pending(sessionId, work, new TaskCompletionSource<Executed>(TaskCreationOptions.RunContinuationsAsynchronously), Now, serverDrafted, fromEdge);
        if (fromEdge) _planner.OnTreeQueued(sessionId, pending.Enqueued);
        _queue.Add(pending);
        ReportMetrics();
        if (!_flushing) _ = FlushAsync();
        return pending.Done.Task;
    }

    /// <summary>
    /// The next forward's items, in arrival order, up to MaxBatch. Work-conserving: everything. Pipeline-aware: edge
    /// trees only up to the planner's group size (prefills and server steps always go), the rest wait for the next forward.
    /// </summary>
    private List<Pending> NextBatch()
    {
        int max = models.Options.MaxBatch;
        int edgeLimit = models.Options.Batching == BatchingPolicy.PipelineAware ? _planner.EdgeTreeLimit(Now, max) : max;
        var batch = new List<Pending>();
        int edgeTrees = 0;
        foreach (var item in _queue)
        {
            if (batch.Count == max) break;
            if (item.FromEdge && edgeTrees == edgeLimit) continue;
            if (item.FromEdge) edgeTrees++;
            batch.Add(item);
        }
        foreach (var item in batch) _queue.Remove(item);
        return batch;
    }

    /// <summary>
    /// Work-conserving batching: run whatever is queued, as soon as the device is free, until nothing is left.
    /// Each item succeeds or fails alone (see <see cref="TargetVerifier.Execute"/>); nothing is ever run twice.
    /// </summary>
    private async Task FlushAsync()
    {
        _flushing = true;
        try
        {
            while (_queue.Count > 0)
            {
                var deadline = Now - TimeSpan.FromSeconds(models.Options.QueueTimeoutSeconds);
                foreach (var stale in _queue.Where(p => p.Enqueued < deadline).ToList())
                {
                    _queue.Remove(stale);
                    stale.Done.TrySetException(new TimeoutException($"The step waited more than {models.Options.QueueTimeoutSeconds:F0}s for the device."));
                }
                var batch = NextBatch();
                if (batch.Count == 0) break;
                _running = batch;
                _batchSizes.Add(batch.Count);
                var started = Now;
                _forwardStarts.Add(StepTiming.NowUnixMicroseconds());
                foreach (var item in batch) SpecEdgeMetrics.QueueWait.Record((started - item.Enqueued).TotalSeconds);
                SpecEdgeMetrics.BatchSize.Record(batch.Count);
                ReportMetrics();
                WorkResult[] results;
                var clock = System.Diagnostics.Stopwatch.StartNew();
                try
                {
                    results = await _device.RunAsync(batch.Select(p => new DeviceJob(p.SessionId, p.Work, p.ServerDrafted)).ToList());
                }
                catch (Exception e)
                {
                    // The forward itself failed: nothing was committed. Every sequence of the batch is rebuilt by its session.
                    logger.LogError(e, "Verifier {Key}: forward of a batch of {Count} failed", _key, batch.Count);
                    foreach (var item in batch)
                    {
                        DropIfCurrent(item.SessionId, item.Work.Sequence, $"the forward failed ({e.Message})");
                        item.Done.TrySetException(new SessionNotLoadedException($"The forward of session '{item.SessionId}' failed; rebuild it."));
                    }
                    continue;
                }
                finally
                {
                    _running = new();
                }
                double ms = clock.Elapsed.TotalMilliseconds;
                _forwardMs.Add(ms);
                _planner.OnForward(batch.Count, ms);
                SpecEdgeMetrics.DeviceBusy.Add(ms / 1000);
                var done = Now;
                foreach (var item in batch) SpecEdgeMetrics.StepDuration.Record((done - item.Enqueued).TotalSeconds);
                ReportMetrics();
                for (int i = 0; i < batch.Count; i++)
                {
                    if (results[i].Verdict is { } verdict)
                    {
                        if (batch[i].FromEdge) _planner.OnVerdict(batch[i].SessionId, done, verdict.Finished);
                        // Batch and queue travel with the verdict: an adaptive edge sizes its next tree to the load.
                        batch[i].Done.TrySetResult(new Executed(verdict, ms, (started - batch[i].Enqueued).TotalMilliseconds, batch.Count, _queue.Count));
                        continue;
                    }
                    var error = results[i].Error!;
                    logger.LogWarning(error, "Verifier {Key}: step of session {Session} failed alone", _key, batch[i].SessionId);
                    // A failed item's sequence was restored, unless it faulted half-way: then only a rebuild is safe.
                    if (batch[i].Work.Sequence.Faulted) DropIfCurrent(batch[i].SessionId, batch[i].Work.Sequence, "a commit failed half-way");
                    batch[i].Done.TrySetException(error);
                }
            }
        }
        finally
        {
            _flushing = false;
            _running = new();
        }
    }
}
