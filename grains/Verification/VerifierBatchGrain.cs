using Microsoft.Extensions.Logging;
using Orleans.Concurrency;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Placement;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// Batches verification work of many sessions onto one device. Reentrant: while a forward runs on the device thread,
/// new requests keep arriving and queue up; when the forward ends, what the <see cref="VerifierScheduler"/> plans
/// (everything queued, up to MaxBatch, by default) goes into the next one, run by the <see cref="DeviceRunner"/>. It
/// never waits for a batch to fill. The KV caches die with the activation and are rebuilt from the sessions' persisted
/// tokens: whenever this verifier and a session disagree (step, length, a failed item), it drops its copy and answers
/// <see cref="SessionNotLoadedException"/>. Limits (the scheduler's): a hard KV budget admitting by reply (a sequence
/// mid-reply is never evicted; a new one that does not fit is refused "at capacity" before any work), a bounded queue,
/// and a deadline for queued work.
/// </summary>
[SiloPinnedPlacement, Reentrant]
// Explicit, so renaming the class never moves its activations or its stored state (keys include the grain type).
[GrainType("verifierbatch")]
public sealed class VerifierBatchGrain(ModelHost models, ILocalSiloDetails silo, TimeProvider time, ILogger<VerifierBatchGrain> logger) : Grain, IVerifierBatchGrain
{
    /// <summary>The conversations held here, under the KV budget.</summary>
    private HeldSequences _sequences = null!;
    private readonly ForwardRecord _forwards = new();
    /// <summary>The queue, deadlines, eviction and batching: this grain asks it what to run and runs it.</summary>
    private VerifierScheduler _scheduler = null!;
    /// <summary>The device: target, server drafters, device thread. The scheduler decides; the runner computes.</summary>
    private DeviceRunner _device = null!;
    private VerifierKey _key;
    private bool _flushing;
    /// <summary>
    /// Server-decoded steps whose tree the device drafted, those it decoded plainly because drafting did not pay, and the
    /// drafting passes it ran (fewer than the drafted steps when it drafted trees together).
    /// </summary>
    private long _serverDraftedSteps, _serverPlainSteps, _serverDraftPasses;
    /// <summary>Wall time from the injected clock (queue deadlines, abandonment, the planner's window).</summary>
    private DateTime Now => time.GetUtcNow().UtcDateTime;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _key = VerifierKey.Parse(this.GetPrimaryKeyString());
        if (_key.Device < 0 || _key.Device >= models.DeviceCount)
            throw new InvalidOperationException($"Verifier device {_key.Device}: this silo has {models.DeviceCount} device(s).");
        _device = new DeviceRunner(models, _key.Device, logger);
        var o = models.Options;
        _scheduler = new VerifierScheduler(new VerifierScheduler.Limits(o.MaxBatch, o.MaxQueuedSteps, TimeSpan.FromSeconds(o.QueueTimeoutSeconds), o.Batching,
            (long)o.KvMemoryMb << 20, o.FairShares, o.TenantWeights, o.TreeTrimming, o.ForcedTreeNodes, o.FairForwardStretch), () => Now);
        _sequences = new HeldSequences(_scheduler, _device, o, _key.ToString(), logger);
        _sequences.SizePrefixCache();
        logger.LogInformation("Verifier {Key} active (max batch {MaxBatch}, KV budget {Mb} MB, trimming {Trimming}, prefix cache {Prefixes}, early verdicts {Early})", _key,
            o.MaxBatch > 0 ? o.MaxBatch.ToString() : "no cap", o.KvMemoryMb, o.TreeTrimming,
            o.PrefixCacheBlockTokens > 0 ? $"{o.PrefixCacheBlockTokens}-token blocks, {o.PrefixCacheShare:P0} kept, {models.PublicPrefixes.Count / 2} public prompt(s)" : "off",
            models.ExitHead(_key.Device) is { } head ? $"after layer {head.Layer}" : "off");
        ReportMetrics();
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        var sequences = _sequences.TakeAll();
        SpecEdgeMetrics.ForgetVerifier(_key.ToString());
        // On the device thread, after any forward still running (see HeldSequences.Forget).
        await _device.ReleaseAllAsync(sequences).WaitAsync(cancellationToken).ContinueWith(_ => { });
    }

    public async Task<int> OpenAsync(string sessionId, SequenceSnapshot snapshot)
    {
        _sequences.Forget(sessionId);
        _sequences.MakeRoom();
        var s = snapshot.Settings;
        var cache = _device.Model.NewCache(models.Options.MaxContextTokens);
        var sequence = new TargetSequence(cache, snapshot.Committed, snapshot.ReplyStart,
            VerifierBoundary.Sampling(s, models.ChatFormat.ToolCalls), models.StopCriteria(s.MaxNewTokens, s.StopStrings), snapshot.Step)
            { MaxTreeNodes = models.Options.MaxTreeNodes, PrefixScope = _device.ScopeOf(sessionId) };
        _sequences.Add(sessionId, sequence);
        return Reused(await Enqueue(sessionId, new PrefillWork(sequence)));
    }

    public async Task<int> StartTurnAsync(string sessionId, int[] appended, GenerationSettings settings, int expectedCommitted)
    {
        var sequence = _sequences.Get(sessionId);
        if (sequence.Committed.Count != expectedCommitted)
            throw new SessionNotLoadedException($"Verifier holds {sequence.Committed.Count} tokens of session '{sessionId}', the session {expectedCommitted}.");
        if (sequence.Committed.Count + appended.Length + 1 > sequence.Cache.Capacity)
            throw new InvalidOperationException($"The conversation would exceed {sequence.Cache.Capacity} tokens (MaxContextTokens).");
        sequence.StartTurn(appended, models.StopCriteria(settings.MaxNewTokens, settings.StopStrings), VerifierBoundary.Sampling(settings, models.ChatFormat.ToolCalls));
        return Reused(await Enqueue(sessionId, new PrefillWork(sequence)));
    }

    private static int Reused(VerifierScheduler.Executed executed)
    {
        if (executed.ReusedTokens > 0) SpecEdgeMetrics.PrefixReusedTokens.Add(executed.ReusedTokens);
        return executed.ReusedTokens;
    }


    public async Task<StepVerdict> VerifyAsync(TreeSubmission tree, IEdgeObserver? earlyListener = null, long sentForStep = -1, int[]? committedSince = null)
    {
        var sequence = _sequences.Get(tree.SessionId);
        // The session checked step and length against its own durable state before calling: a disagreement here means
        // this copy is stale (e.g. ahead after a failed state write), not that the tree is bad. Rebuild, don't refuse.
        if (tree.Step != sequence.Step || tree.CommittedLength != sequence.Committed.Count)
            throw _sequences.Drop(tree.SessionId, $"Verifier is at step {sequence.Step} with {sequence.Committed.Count} tokens of session '{tree.SessionId}', the session at step {tree.Step} with {tree.CommittedLength}.");
        // The session checked the tree's rules (TreeRules) against the same step and length: what is left is this
        // sequence's own state (still taking trees, room in its KV cache), before queueing, so a tree fails alone.
        var message = tree.Tree;
        sequence.CheckFits(message);
        var early = earlyListener is not null && _device.SendsEarlyVerdicts ? EarlyVerdictSender.OnThisGrain(tree.SessionId, earlyListener, logger, sentForStep, committedSince) : null;
        var executed = await Enqueue(tree.SessionId, new VerifyWork(sequence, message), fromEdge: true, early: early);
        return VerifierBoundary.Outcome(tree.SessionId, sequence, executed);
    }

    public async Task<StepVerdict> DecodeAsync(string sessionId, long step, bool whileEdgeDrafts = false)
    {
        var sequence = _sequences.Get(sessionId);
        if (sequence.Step != step) throw _sequences.Drop(sessionId, $"Verifier is at step {sequence.Step} of session '{sessionId}', the session at {step}.");
        if (sequence.Finished) throw new InvalidOperationException($"Session '{sessionId}' has no reply in progress.");
        var executed = await Enqueue(sessionId, new DecodeWork(sequence), serverDrafted: models.HasServerDraft, whileEdgeDrafts: whileEdgeDrafts);
        return VerifierBoundary.Outcome(sessionId, sequence, executed);
    }

    public Task CloseAsync(string sessionId)
    {
        _sequences.Forget(sessionId);
        ReportMetrics();
        return Task.CompletedTask;
    }

    public Task<VerifierStats> GetStatsAsync() =>
        Task.FromResult(_forwards.Stats(_key.ToString(), _sequences.Count, _sequences.CacheBytes, silo.Name, _sequences.Evictions) with
        {
            Prefixes = _device.Prefixes is { } p ? new PrefixCacheStats(p.Blocks, p.Bytes, p.CapacityBytes, p.ReusedTokens, p.Restores, p.EvictedBlocks) : null,
            ServerDrafts = models.HasServerDraft
                ? new ServerDraftStats(_serverDraftedSteps, _serverPlainSteps, _scheduler.ServerDraft?.TokensPerStep ?? double.NaN,
                    _scheduler.ServerDraft?.DraftMs ?? double.NaN, _scheduler.ServerDraft?.VerifiedNodes ?? double.NaN, _scheduler.ServerDraft?.DraftFixedMs ?? double.NaN, _serverDraftPasses)
                : null,
            EdgeTurnaroundMs = _scheduler.EdgeTurnaroundMs,
        });


    private void ReportMetrics() => SpecEdgeMetrics.ReportVerifier(_key.ToString(), _scheduler.Queued,
        _sequences.CacheBytes + _device.PrefixBytes, (long)models.Options.KvMemoryMb << 20);

    private Task<VerifierScheduler.Executed> Enqueue(string sessionId, TargetWork work, bool serverDrafted = false, bool fromEdge = false, Action<EarlyVerdict>? early = null,
        bool whileEdgeDrafts = false)
    {
        var step = _scheduler.Enqueue(sessionId, work, serverDrafted, fromEdge, early, whileEdgeDrafts);
        ReportMetrics();
        if (!_flushing) _ = FlushAsync();
        return step.Done.Task;
    }

    /// <summary>
    /// Runs what the scheduler plans, as soon as the device is free, until nothing is left. Each item succeeds or fails
    /// alone (see <see cref="TargetVerifier.Execute"/>); nothing is ever run twice.
    /// </summary>
    private async Task FlushAsync()
    {
        _flushing = true;
        try
        {
            for (var plan = _scheduler.NextForward(); plan is not null; plan = _scheduler.NextForward())
            {
                foreach (var stale in plan.Expired)
                    stale.Done.TrySetException(new TimeoutException($"The step waited more than {models.Options.QueueTimeoutSeconds:F0}s for the device."));
                if (plan.Batch.Count == 0) break;
                await RunForwardAsync(plan.Batch, plan.Trim);
            }
        }
        finally { _flushing = false; }
    }

    private async Task RunForwardAsync(IReadOnlyList<VerifierScheduler.Step> batch, TrimRule trim)
    {
        var started = Now;
        _forwards.Started(batch, started);
        ReportMetrics();
        DeviceOutcome outcome;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            outcome = await _device.RunAsync(batch.Select(p => new DeviceJob(p.SessionId, p.Work, p.ServerDrafted, p.Early)).ToList(), trim);
        }
        catch (Exception e)
        {
            // The forward itself failed: nothing was committed. Every sequence of the batch is rebuilt by its session.
            _scheduler.ForwardEnded(0, 0);
            logger.LogError(e, "Verifier {Key}: forward of a batch of {Count} failed", _key, batch.Count);
            foreach (var item in batch)
            {
                _sequences.DropIfCurrent(item.SessionId, item.Work.Sequence, $"the forward failed ({e.Message})");
                item.Done.TrySetException(new SessionNotLoadedException($"The forward of session '{item.SessionId}' failed; rebuild it."));
            }
            return;
        }
        double ms = clock.Elapsed.TotalMilliseconds;
        var results = outcome.Results;
        _scheduler.ForwardEnded(batch.Count, ms, outcome.Shape, outcome.ForwardMs);
        _forwards.Ended(batch, ms, Now);
        ReportMetrics();
        foreach (var (trees, draftMs) in outcome.DraftPasses) _scheduler.ServerDraftPass(trees, draftMs);
        _serverDraftPasses += outcome.DraftPasses.Count;
        for (int i = 0; i < batch.Count; i++)
        {
            if (batch[i].ServerDrafted && outcome.ServerDrafted[i]) _serverDraftedSteps++;
            else if (batch[i].ServerDrafted)
            {
                _serverPlainSteps++;
                SpecEdgeMetrics.ServerDraftSkipped.Add(1);
            }
            if (results[i].Verdict is { } verdict)
            {
                if (batch[i].FromEdge) _scheduler.EdgeVerdict(batch[i].SessionId, verdict.Finished);
                else if (!batch[i].WhileEdgeDrafts) _scheduler.ServerStepDone(batch[i].SessionId);
                if (outcome.Drafted[i] is VerifyWork drafted)
                {
                    _scheduler.Verified(batch[i].SessionId, drafted.Tree, verdict);
                    if (outcome.ServerDrafted[i])
                        _scheduler.ServerDrafted(outcome.VerifiedNodes[i] >= 0 ? outcome.VerifiedNodes[i] : drafted.Tree.Tokens.Length - 1, verdict);
                }
                // Batch, queue and the verified budget travel with the verdict: an edge sizes its next tree to them.
                batch[i].Done.TrySetResult(new VerifierScheduler.Executed(verdict, ms, (started - batch[i].Enqueued).TotalMilliseconds, batch.Count, _scheduler.Queued,
                    outcome.VerifiedNodes[i]) { ReusedTokens = results[i].ReusedTokens, ServerPays = batch[i].FromEdge && outcome.ServerPays[i] });
                continue;
            }
            var error = results[i].Error!;
            logger.LogWarning(error, "Verifier {Key}: step of session {Session} failed alone", _key, batch[i].SessionId);
            // A failed item's sequence was restored, unless it faulted half-way: then only a rebuild is safe.
            if (batch[i].Work.Sequence.Faulted) _sequences.DropIfCurrent(batch[i].SessionId, batch[i].Work.Sequence, "a commit failed half-way");
            batch[i].Done.TrySetException(error);
        }
    }
}
