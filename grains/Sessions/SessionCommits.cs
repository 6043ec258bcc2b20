using Microsoft.Extensions.Logging;
using Orleans.Serialization;
using Orleans.Storage;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// How one session activation makes its changes durable, and what readers see meanwhile. A step's verdict is applied
/// in memory at once (<see cref="CommitAsync"/>: the edge gets it while the write runs); readers (chunks, chats,
/// snapshots) see a step only once a write holding it has completed (<see cref="Durable"/>). One write is in flight at a
/// time and steps committed meanwhile go out together in the next (<see cref="StepWriter{TStep,TView}"/>). A failed step
/// write rolls the conversation back to its durable state with every step on top of it, makes the verifier rebuild and
/// tells the edge to resynchronise; a lost ETag race deactivates the activation (Orleans' rule for
/// <see cref="InconsistentStateException"/>). Every other change is written at once and undone in memory if its write
/// fails (<see cref="WriteChangeAsync"/>). Plain code: the grain routes to it under its turn-based scheduling.
/// </summary>
public sealed class SessionCommits
{
    private readonly string _id;
    private readonly Conversation _conversation;
    private readonly IPersistentState<SessionState> _state;
    private readonly DeepCopier<SessionState> _copier;
    private readonly ReplyStream _reply;
    private readonly VerifierLink _verifier;
    private readonly EdgeLease _edge;
    private readonly ServerStepPolicy _policy;
    private readonly TurnAdmission _admission;
    private readonly bool _pipelined;
    private readonly Action _deactivate;
    private readonly ILogger _logger;
    private readonly StepWriter<PendingStep, Conversation.View> _writes;

    /// <param name="pipelined">Whether a committed step returns before its write (SpecEdge:PipelinedStateWrites).</param>
    /// <param name="deactivate">Deactivates the grain (a stale activation must not go on).</param>
    public SessionCommits(string id, Conversation conversation, IPersistentState<SessionState> state, DeepCopier<SessionState> copier, ReplyStream reply,
        VerifierLink verifier, EdgeLease edge, ServerStepPolicy policy, TurnAdmission admission, bool pipelined, Action deactivate, ILogger logger)
    {
        (_id, _conversation, _state, _copier, _reply, _verifier, _edge, _policy, _admission, _pipelined, _deactivate, _logger) =
            (id, conversation, state, copier, reply, verifier, edge, policy, admission, pipelined, deactivate, logger);
        _writes = new StepWriter<PendingStep, Conversation.View>(_conversation.Capture, StartWriteAsync, OnStepsDurable, OnStepsNotDurable);
        Durable = _conversation.Capture();
        RebuildReply();
    }

    private SessionState S => _conversation.State;

    /// <summary>What the last completed write stored: all that readers may see.</summary>
    public Conversation.View Durable { get; private set; }

    /// <summary>Waits until no write is in flight and no step is queued (a failure was already handled).</summary>
    public Task SettleAsync() => _writes.SettleAsync();

    /// <summary>
    /// Applies a verifier outcome in memory and makes sure a write will store it: it starts one if none is in flight,
    /// else the write chain in flight takes it next. Returns without waiting for the write (when pipelined), so the
    /// verdict can go out while it runs. If an earlier step's write failed, the session was rolled back under this
    /// step and it is refused.
    /// </summary>
    public async Task CommitAsync(StepVerdict v)
    {
        if (v.Step != S.Step)
        {
            _verifier.Invalidate();   // the verifier ran ahead of the durable state: rebuild it from there
            throw new StepNotDurableException($"Step {v.Step} of session '{_id}' was verified on a step that could not be saved; the session is back at step {S.Step}: resynchronise and retry.");
        }
        string text = _reply.Prepare(v.AcceptedTokens, v.Finished, S.Settings.StopStrings);
        var rollback = _conversation.ApplyVerdict(v, () => _reply.PreparedText);
        var writing = _writes.Commit(new PendingStep(v, text, rollback));
        if (!_pipelined) await writing;
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the conversation and writes it. If the write fails, memory goes back to what
    /// storage holds (a turn marked generating, an edge attached, settings: none of it stays without its write); if it
    /// failed because another activation wrote first (ETag conflict), this activation is stale and deactivates, so the
    /// next call reloads the stored conversation: Orleans' own rule, applied here because the caller-safe error filter
    /// replaces the exception before the runtime could see it.
    /// </summary>
    public async Task WriteChangeAsync(Action change)
    {
        await _writes.SettleAsync();
        var before = _copier.Copy(S);
        change();
        try
        {
            await _writes.WriteNowAsync();
        }
        catch (Exception e)
        {
            _conversation.Restore(before);
            if (e is InconsistentStateException)
            {
                _logger.LogWarning("Session {Session}: another activation wrote the conversation first; this one deactivates", _id);
                _deactivate();
            }
            throw;
        }
    }

    /// <summary>Ends the reply with an error chunk that every reader sees, and persists that end.</summary>
    public Task FailReplyAsync(Exception e)
    {
        _logger.LogError(e, "Session {Session}: server decoding failed at step {Step}", _id, S.Step);
        // Every reader of the reply sees the error; persisted, so that a reactivation does not resume a reply that failed for good.
        return EndReplyAsync(() => _conversation.FailReply(CallerSafeErrorsFilter.MessageFor(e)), "failed");
    }

    /// <summary>
    /// Stops the reply in progress where it is and persists that end; readers get a final chunk. The verifier's copy
    /// (mid-reply) is rebuilt from the session's state when next used.
    /// </summary>
    public Task StopReplyAsync() => EndReplyAsync(() =>
    {
        _logger.LogInformation("Session {Session}: reply stopped by its caller at step {Step}", _id, S.Step);
        _conversation.StopReply();
        _verifier.Invalidate();
    }, "stopped");

    /// <summary>Ends the reply in progress (<paramref name="end"/>, once nothing is unwritten), writes that, frees its slot and tells its readers.</summary>
    private async Task EndReplyAsync(Action end, string what)
    {
        await _writes.SettleAsync();
        end();
        try { await _writes.WriteNowAsync(); }
        catch (Exception write)
        {
            _logger.LogWarning(write, "Session {Session}: could not persist the {What} reply's end", _id, what);
            if (write is InconsistentStateException) _deactivate();
        }
        EndOfReply();
        _reply.Publish(Array.Empty<int>(), _reply.Prepare(Array.Empty<int>(), final: true, S.Settings.StopStrings), final: true, S.ReplyFinish);
    }

    /// <summary>Frees the finished reply's quota slot, if it holds one.</summary>
    public void EndOfReply() => _admission.Release(S.QuotaTenant);

    /// <summary>Rebuilds the reply's chunks from durable state: readers see exactly the chunks (and numbers) they saw before.</summary>
    public void RebuildReply() =>
        _reply.Rebuild(S.Committed.Skip(S.ReplyStart).ToArray(), S.ReplyChunkSizes, S.Generating, S.ReplyFinish, S.Settings.StopStrings);

    /// <summary>A step committed in memory: its verdict, its prepared text, and the state to return to if it is not saved.</summary>
    private sealed record PendingStep(StepVerdict Verdict, string Text, Conversation.Rollback Rollback);

    /// <summary>
    /// Starts writing the conversation as it is now. The provider gets a copy: steps committed while the write runs
    /// change the live state, never what this write stores (whenever the provider serializes it).
    /// </summary>
    private async Task StartWriteAsync()
    {
        _state.State = _copier.Copy(S);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await _state.WriteStateAsync();
        SpecEdgeMetrics.StateWrite.Record(clock.Elapsed.TotalSeconds);
    }

    /// <summary>A write that held <paramref name="steps"/> completed: readers may now see them, in order.</summary>
    private void OnStepsDurable(Conversation.View written, IReadOnlyList<PendingStep> steps)
    {
        Durable = written;
        if (steps.Count == 0) return;
        _policy.WriteSucceeded();
        SpecEdgeMetrics.StepsPerWrite.Record(steps.Count);
        foreach (var (v, text, _) in steps)
        {
            SpecEdgeMetrics.TokensCommitted.Add(v.AcceptedTokens.Length);
            SpecEdgeMetrics.TokensPerStep.Record(v.AcceptedTokens.Length);
            _reply.Publish(v.AcceptedTokens, text, v.Finished, v.Finished ? S.ReplyFinish : null, v.Logprobs);
            if (v.Finished) EndOfReply();
        }
    }

    /// <summary>
    /// A write of <paramref name="steps"/> failed (with every step committed on top of them): returns what the chain
    /// throws. Lost to another activation (ETag conflict), this one is stale and deactivates; otherwise the session goes
    /// back to its last durable state, the verifier rebuilds from it, and the edge (which has the verdicts) resyncs.
    /// </summary>
    private Exception OnStepsNotDurable(IReadOnlyList<PendingStep> steps, Exception e)
    {
        if (e is InconsistentStateException)
        {
            // It must not publish tokens it could not make durable; the next call reloads the stored conversation.
            _logger.LogWarning(e, "Session {Session}: stale activation lost a storage race at step {Step}; deactivating", _id, steps[^1].Verdict.Step);
            _deactivate();
            return e;
        }
        var back = steps[0].Rollback;
        _logger.LogWarning(e, "Session {Session}: state write failed for steps {First}-{Last}; rolling back to step {Step} and resynchronising", _id, steps[0].Verdict.Step, S.Step - 1, back.Step);
        _policy.WriteFailed();
        _conversation.RollBack(back);
        _verifier.Invalidate();
        RebuildReply();
        var error = new StepNotDurableException($"Step {steps[0].Verdict.Step} of session '{_id}' could not be saved; it was rolled back, resynchronise and retry.");
        if (S.AttachedEdge is not null) _edge.Notify(o => o.OnRejected(new TreeRejection(_id, back.Step + 1, error.Message)));
        return error;
    }
}
