using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.BroadcastChannel;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Serialization;
using Orleans.Storage;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// One conversation. It is the authority on committed tokens and steps: it validates every tree from an edge, hands
/// it to the verifier on its own silo, commits and persists the result, and answers the edge. With no edge attached
/// (or when the attached edge goes quiet past its lease) it decodes on the server.
/// <para>
/// Not reentrant: every request that changes the conversation (settings, a turn, attach, detach, an edge's tree by call
/// or by channel) and every server step (a non-interleaved timer tick) runs alone, start to finish, so an edge and the
/// server are two interchangeable sources of trees for one step loop. Only what must interleave does, by attribute on
/// the contract: <see cref="GetAsync"/>, reply streaming (Orleans' enumeration extension interleaves) and
/// <see cref="ChatAsync"/>, which waits for a whole reply.
/// </para>
/// <para>
/// Durability: a step's verdict goes to the edge as soon as it is committed in memory, and its state write runs on
/// while the edge drafts the next tree; readers (chunks, chats, snapshots) see a step only once a write that holds it
/// has completed. One write is in flight at a time. Steps committed while it runs wait in memory and go out together in
/// the next write (group commit), so slow storage means fewer, larger writes instead of a queue of them, and never a
/// step that waits for the previous step's write. Every other change first waits until nothing is unwritten. A failed
/// write rolls the session back to its durable state (with every step committed after it), makes the verifier rebuild
/// from it, and tells the edge to resynchronise.
/// </para>
/// </summary>
[ActivationCountBasedPlacement]
[ImplicitChannelSubscription(ChannelNames.TreeNamespace)]
// Explicit, so renaming the class never moves its activations or its stored state (keys include the grain type).
[GrainType("session")]
public sealed class SessionGrain(
    [PersistentState("session", "sessions")] IPersistentState<SessionState> state,
    ModelHost models,
    DeepCopier<SessionState> copier,
    ILocalSiloDetails silo,
    TimeProvider clock,
    ILogger<SessionGrain> logger) : Grain, ISessionGrain, ISessionControl, IOnBroadcastChannelSubscribed
{
    // Not persisted: handles and caches that belong to this activation only.
    private VerifierLink _verifier = null!;
    private EdgeLease _edge = null!;
    private IGrainTimer _serverStep = null!;
    /// <summary>When the server's decoding retries a failed step, waits for capacity, or gives the reply up.</summary>
    private readonly ServerStepPolicy _serverPolicy = new(clock);
    private TurnAdmission _admission = null!;
    private ReplyStream _reply = null!;
    /// <summary>The state writes: one in flight, group commit of steps, durable or rolled back together.</summary>
    private StepWriter<PendingStep, Conversation.View> _writes = null!;
    /// <summary>
    /// The conversation as this activation knows it, including steps not yet durable. The storage provider is handed a
    /// copy for each write, so what a write stores is the state when it began, whatever is committed while it runs.
    /// </summary>
    private Conversation _conversation = null!;
    /// <summary>What the last completed write stored: all that <see cref="GetAsync"/> shows.</summary>
    private Conversation.View _durable = null!;

    private string Id => this.GetPrimaryKeyString();
    private SessionState S => _conversation.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Whoever named this grain (operators and silos are not checked by the call policy), it is a conversation id or
        // nothing: an id that does not parse never runs, and its storage was never touched (EscapedKeyGrainStorage).
        ConversationId.Parse(Id, "session id");
        // Co-locate with a verifier of this silo; spread sessions over its devices.
        int device = (int)((uint)Id.GetHashCode() % (uint)models.DeviceCount);
        _verifier = new VerifierLink(GrainFactory.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo.Name, device).ToString()), Id, Snapshot, logger);
        _edge = new EdgeLease(TimeSpan.FromSeconds(models.Options.EdgeLeaseSeconds), clock, Id, logger);
        _reply = new ReplyStream(models.Tokenizer);
        _admission = new TurnAdmission(GrainFactory, Id, models.Options.MaxActiveRepliesPerTenant, logger);
        this.RegisterGrainTimer(CheckEdgeLeaseAsync, new GrainTimerCreationOptions
        {
            DueTime = TimeSpan.FromSeconds(1), Period = TimeSpan.FromSeconds(0.5), Interleave = false,
        });
        // Server decoding is one step per tick of this timer, armed for one tick at a time; not interleaved, so a server
        // step and an edge's request never overlap.
        _serverStep = this.RegisterGrainTimer(ServerStepAsync, new GrainTimerCreationOptions
        {
            DueTime = Timeout.InfiniteTimeSpan, Period = Timeout.InfiniteTimeSpan, Interleave = false,
        });
        _conversation = new Conversation(state.State);
        _writes = new StepWriter<PendingStep, Conversation.View>(_conversation.Capture, StartWrite, OnStepsDurable, OnStepsNotDurable);
        SpecEdgeMetrics.SessionActivated();
        // The chunks readers saw are rebuilt from durable state, numbered as before.
        _durable = _conversation.Capture();
        RebuildReply();
        if (S.Generating)
        {
            // A reply was in progress when the previous activation died: resume it on the server until an edge returns.
            _conversation.Release();
            logger.LogInformation("Session {Session} reactivated on {Silo} mid-reply ({Tokens} tokens so far); the server resumes it", Id, silo.Name, S.Committed.Count - S.ReplyStart);
            ScheduleServerStep();
        }
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A graceful deactivation (idle, silo shutdown) stores the steps still unwritten, so the next activation resumes
        // after them; the edge already has their verdicts. A failed write has already rolled them back.
        try { await _writes.SettleAsync().WaitAsync(cancellationToken); }
        catch (OperationCanceledException) { }
        SpecEdgeMetrics.SessionDeactivated();
    }

    public Task OnSubscribed(IBroadcastChannelSubscription subscription) =>
        subscription.Attach<TreeSubmission>(OnTreePublishedAsync, e => { logger.LogWarning(e, "Tree channel error"); return Task.CompletedTask; });

    public async Task ConfigureAsync(GenerationSettings settings)
    {
        SessionInputLimits.CheckSettings(settings, models.Options);
        await _writes.SettleAsync();
        if (S.Generating) throw new InvalidOperationException("Cannot change settings while a reply is being generated.");
        await WriteChangeAsync(() => ApplySettings(settings));
    }

    public async Task<TurnStarted> SendUserMessageAsync(string text)
    {
        SessionInputLimits.CheckMessage(text, models.Options);
        await _writes.SettleAsync();
        ThrowIfReplyInProgress();
        string? tenant = await _admission.ClaimAsync(VerifiedCaller.Current);
        return await StartTurnAsync(text, tenant);
    }

    public async Task<TurnStarted> BeginTurnAsync(TurnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        SessionInputLimits.CheckSettings(request.Settings, models.Options);
        SessionInputLimits.CheckMessage(request.Text, models.Options);
        SessionInputLimits.CheckHistory(request.History, models.Options);
        await _writes.SettleAsync();
        ThrowIfReplyInProgress();
        if (request.History.Length > 0 && S.Committed.Count > 0)
            throw new InvalidOperationException($"Session '{Id}' already has a conversation; earlier turns can only be replayed into a new one.");
        string? tenant = await _admission.ClaimAsync(VerifiedCaller.Current);
        try
        {
            // The settings become the session's with the turn, in its one state write.
            return await StartClaimedTurnAsync(request.Text, tenant, request.History, request.Settings);
        }
        catch
        {
            _admission.Release(tenant);
            throw;
        }
    }

    public async Task<string> ChatAsync(string text)
    {
        // Interleaved (it waits for the whole reply): everything that changes the conversation happens in the
        // non-interleaved StartTurnAsync request. The quota is taken here, under the caller's verified identity.
        SessionInputLimits.CheckMessage(text, models.Options);
        ThrowIfReplyInProgress();
        string? tenant = await _admission.ClaimAsync(VerifiedCaller.Current);
        try { await this.AsReference<ISessionControl>().StartTurnAsync(text, tenant); }
        catch
        {
            _admission.Release(tenant);
            throw;
        }
        return await _reply.WaitForEndAsync();
    }

    private void ThrowIfReplyInProgress()
    {
        if (S.Generating)
            throw new InvalidOperationException($"Session '{Id}' already has a reply in progress; send the next message when it has finished.");
    }

    /// <summary>Starts a turn whose quota slot (if any) is already taken; gives the slot back if the turn does not start.</summary>
    public async Task<TurnStarted> StartTurnAsync(string text, string? tenant)
    {
        try
        {
            SessionInputLimits.CheckMessage(text, models.Options);
            await _writes.SettleAsync();
            ThrowIfReplyInProgress();
            return await StartClaimedTurnAsync(text, tenant);
        }
        catch
        {
            _admission.Release(tenant);
            throw;
        }
    }

    /// <summary>Frees the finished reply's quota slot, if it holds one.</summary>
    private void EndOfReply() => _admission.Release(S.QuotaTenant);

    /// <summary>
    /// Starts a turn: <paramref name="history"/> (earlier turns, only into an empty conversation) and the message are
    /// encoded, under <paramref name="settings"/> if given (else the session's own).
    /// </summary>
    private async Task<TurnStarted> StartClaimedTurnAsync(string text, string? tenant, IReadOnlyList<ChatTurn>? history = null, GenerationSettings? requested = null)
    {
        history ??= Array.Empty<ChatTurn>();
        // The seed (and who set it) as the turn will store it; nothing changes in memory until the turn is written.
        var (settings, seedOwner) = requested is not null ? WithSeed(requested) : S.Settings.Seed is null ? WithSeed(S.Settings) : (S.Settings, S.SeedOwner);
        var appended = history.Count > 0
            ? TurnFormatter.ConversationTokens(models.Tokenizer, models.ChatFormat, settings, history, text)
            : TurnFormatter.Tokens(models.Tokenizer, models.ChatFormat, S.Committed, settings, text);
        if (S.Committed.Count + appended.Length + 2 > models.Options.MaxContextTokens)
            throw new InvalidOperationException($"The conversation would exceed {models.Options.MaxContextTokens} tokens (MaxContextTokens).");

        // The verifier learns the turn first; only then does it become part of the persisted conversation.
        await _verifier.StartTurnAsync(S.Committed, appended, settings, S.Step);
        try
        {
            await WriteChangeAsync(() => _conversation.StartTurn(settings, seedOwner, tenant, history, text, appended));
        }
        catch
        {
            // The verifier already holds the turn that storage refused: it rebuilds from the session's state when next used.
            _verifier.Invalidate();
            throw;
        }

        _reply.Reset();
        var turn = new TurnStarted(Id, appended, S.Committed.Count, S.Step);
        if (_edge.HasObserver && S.AttachedEdge is not null)
        {
            _edge.Touch();
            _edge.Notify(e => e.OnTurnStarted(turn));
        }
        else
        {
            ScheduleServerStep();
        }
        return turn;
    }

    public IAsyncEnumerable<ReplyChunk> StreamReplyAsync(int fromChunk = 0)
    {
        if (fromChunk < 0) throw new ArgumentOutOfRangeException(nameof(fromChunk), $"fromChunk must be 0 or more; got {fromChunk}.");
        return _reply.ReadAsync(fromChunk, () => S.Generating);
    }

    public Task<SessionSnapshot> GetAsync()
    {
        // Interleaved, and never waiting: what the last completed write stored, never a step whose write is in flight
        // (waiting for "no write in flight" could wait for a whole reply while steps follow each other).
        var d = _durable;
        // An edge sees neither the silo nor another edge's id.
        // The seed predicts every sample: only the principal that set it, and operators, may read it back.
        return Task.FromResult(new SessionSnapshot(Id, d.Messages, d.Committed, d.Step,
            VerifiedCaller.IsEdge && d.AttachedEdge != VerifiedCaller.EdgeIdOr("") ? null : d.AttachedEdge, d.Generating,
            VerifiedCaller.IsEdge ? null : silo.Name, SeedOwners.MayRead(VerifiedCaller.Current, d.SeedOwner) ? d.Seed : null));
    }


    public async Task<EdgeAttachment> AttachEdgeAsync(string edgeId, IEdgeObserver observer)
    {
        edgeId = VerifiedCaller.EdgeIdOr(edgeId);   // an edge is who its credential says, whatever it claims
        ArgumentException.ThrowIfNullOrEmpty(edgeId);
        // No server step runs now (steps do not interleave with requests); from here on the edge owns the reply.
        await WriteChangeAsync(() => _conversation.Attach(edgeId));
        _edge.Attach(observer);
        logger.LogInformation("Session {Session}: edge {Edge} attached at step {Step}", Id, edgeId, S.Step);
        return new EdgeAttachment(Id, S.Committed.ToArray(), S.Step, S.Generating, models.VocabSize, S.Settings.Temperature,
            models.Options.MaxTreeNodes, models.Options.MaxContextTokens);
    }

    public async Task DetachEdgeAsync(string edgeId)
    {
        edgeId = VerifiedCaller.EdgeIdOr(edgeId);
        if (S.AttachedEdge != edgeId) return;
        await ReleaseEdgeAsync($"edge {edgeId} detached");
    }

    public async Task<StepVerdict> SubmitTreeAsync(TreeSubmission tree)
    {
        tree = tree with { EdgeId = VerifiedCaller.EdgeIdOr(tree.EdgeId) };
        var (verdict, error) = await HandleTreeAsync(tree);
        return verdict ?? throw new ArgumentException(error);
    }

    private async Task OnTreePublishedAsync(TreeSubmission tree)
    {
        tree = tree with { EdgeId = VerifiedCaller.EdgeIdOr(tree.EdgeId) };
        StepVerdict? verdict;
        string? error;
        try { (verdict, error) = await HandleTreeAsync(tree); }
        catch (Exception e)
        {
            logger.LogWarning(e, "Session {Session}: step {Step} failed", Id, tree.Step);
            // Only our own messages reach the edge; runtime errors can name silos and addresses.
            (verdict, error) = (null, $"Step {tree.Step} failed on the server: {CallerSafeErrorsFilter.MessageFor(e)}");
        }
        if (!_edge.HasObserver || tree.EdgeId != S.AttachedEdge) return;
        // Not awaited: this request (and with it the step loop) must not wait a round trip for the edge's ack.
        _edge.Notify(e => verdict is not null ? e.OnVerdict(verdict) : e.OnRejected(new TreeRejection(Id, tree.Step, error!)));
    }

    /// <summary>Validates a tree against the conversation, verifies it, commits the result. Returns the verdict or the reason for refusal.</summary>
    private async Task<(StepVerdict? Verdict, string? Error)> HandleTreeAsync(TreeSubmission tree)
    {
        long received = StepTiming.NowUnixMicroseconds();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? error = _conversation.CheckTree(tree, Id, models.Options.MaxTreeNodes);
        if (error is not null) return (null, error);
        _edge.Touch();
        try
        {
            var outcome = await _verifier.CallAsync(v => v.VerifyAsync(tree));
            SpecEdgeMetrics.TreeSize.Record(tree.Tokens.Length - 1);
            var committing = clock.Elapsed;
            await CommitAsync(outcome);
            return (WithTiming(outcome, received, clock.Elapsed - committing, clock.Elapsed), null);
        }
        catch (ArgumentException e)   // InvalidDraftException and friends: the tree was refused, nothing changed
        {
            return (null, e.Message);
        }
        finally
        {
            _edge.Touch();
        }
    }

    /// <summary>
    /// The verdict as it goes to the edge: with the step's breakdown (the verifier's queue and forward times, this
    /// session's commit and total) when <c>SpecEdge:StepTimings</c> is on, else without any (tokens only on the wire).
    /// </summary>
    private StepVerdict WithTiming(StepVerdict verdict, long received, TimeSpan persist, TimeSpan total) =>
        verdict with
        {
            Timing = models.Options.StepTimings && verdict.Timing is { } t
                ? t with { ReceivedUnixMicroseconds = received, PersistMicroseconds = (int)(persist.Ticks / 10), SessionMicroseconds = (int)(total.Ticks / 10) }
                : null,
        };

    private void ScheduleServerStep(TimeSpan? after = null) => _serverStep.Change(after ?? TimeSpan.Zero, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// One step of server-side decoding while no edge is attached (a tick of <see cref="_serverStep"/>): plain, or
    /// speculative with the server's draft model; then it arms the next tick. After a failure
    /// <see cref="ServerStepPolicy"/> decides: redo, wait, stop, or end the reply with an error every reader sees.
    /// </summary>
    private async Task ServerStepAsync(CancellationToken cancellation)
    {
        if (!S.Generating || S.AttachedEdge is not null) return;
        try
        {
            if (_serverPolicy.TooManyFailedWrites)
                throw new StepNotDurableException($"The conversation's state could not be saved {_serverPolicy.FailedWrites} times in a row; the reply was stopped at its last saved step.");
            // The verifier drafts for the server (SpecEdge:ServerDraftModel) on its device thread, or decodes plainly.
            var outcome = await _verifier.CallAsync(v => v.DecodeAsync(Id, S.Step));
            await CommitAsync(outcome);
            _serverPolicy.StepSucceeded();
            if (S.Generating) ScheduleServerStep();
        }
        catch (Exception e)
        {
            var decision = _serverPolicy.AfterFailure(e, cancellation.IsCancellationRequested);
            switch (decision.Action)
            {
                case ServerStepAction.Retry:
                    logger.LogInformation("Session {Session}: server step {Step} failed: {Why}", Id, S.Step, decision.Why);
                    ScheduleServerStep(decision.After);
                    break;
                case ServerStepAction.FailReply:
                    await FailReplyAsync(e);
                    break;
            }
        }
    }

    /// <summary>Ends the reply with an error chunk that every reader sees, and persists that end.</summary>
    private async Task FailReplyAsync(Exception e)
    {
        logger.LogError(e, "Session {Session}: server decoding failed at step {Step}", Id, S.Step);
        await _writes.SettleAsync();
        _conversation.FailReply(CallerSafeErrorsFilter.MessageFor(e));   // every reader of the reply sees it
        // Persist the end of the reply, so that a reactivation does not resume a reply that failed for good.
        try { await _writes.WriteNowAsync(); }
        catch (Exception write)
        {
            logger.LogWarning(write, "Session {Session}: could not persist the failed reply's end", Id);
            if (write is InconsistentStateException) DeactivateOnIdle();
        }
        EndOfReply();
        _reply.Publish(Array.Empty<int>(), _reply.Prepare(Array.Empty<int>(), final: true, S.Settings.StopStrings), final: true, S.ReplyFinish);
    }

    /// <summary>
    /// Applies a verifier outcome in memory and makes sure a write will store it: it starts one if none is in flight,
    /// else the write chain in flight takes it next. Returns without waiting for the write, so the verdict can go out
    /// (to the edge) while it runs; readers see the step when a write holding it completes. If an earlier step's write
    /// failed, the session was rolled back under this step and it is refused.
    /// </summary>
    private async Task CommitAsync(StepVerdict v)
    {
        if (v.Step != S.Step)
        {
            _verifier.Invalidate();   // the verifier ran ahead of the durable state: rebuild it from there
            throw new StepNotDurableException($"Step {v.Step} of session '{Id}' was verified on a step that could not be saved; the session is back at step {S.Step}: resynchronise and retry.");
        }
        string text = _reply.Prepare(v.AcceptedTokens, v.Finished, S.Settings.StopStrings);
        var rollback = _conversation.ApplyVerdict(v, () => _reply.PreparedText);
        var writing = _writes.Commit(new PendingStep(v, text, rollback));
        if (!models.Options.PipelinedStateWrites) await writing;
    }

    /// <summary>A step committed in memory: its verdict, its prepared text, and the state to return to if it is not saved.</summary>
    private sealed record PendingStep(StepVerdict Verdict, string Text, Conversation.Rollback Rollback);

    /// <summary>A write that held <paramref name="steps"/> completed: readers may now see them, in order.</summary>
    private void OnStepsDurable(Conversation.View written, IReadOnlyList<PendingStep> steps)
    {
        _durable = written;
        if (steps.Count == 0) return;
        _serverPolicy.WriteSucceeded();
        SpecEdgeMetrics.StepsPerWrite.Record(steps.Count);
        foreach (var (v, text, _) in steps)
        {
            SpecEdgeMetrics.TokensCommitted.Add(v.AcceptedTokens.Length);
            SpecEdgeMetrics.TokensPerStep.Record(v.AcceptedTokens.Length);
            _reply.Publish(v.AcceptedTokens, text, v.Finished, v.Finished ? S.ReplyFinish : null);
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
            logger.LogWarning(e, "Session {Session}: stale activation lost a storage race at step {Step}; deactivating", Id, steps[^1].Verdict.Step);
            DeactivateOnIdle();
            return e;
        }
        var back = steps[0].Rollback;
        logger.LogWarning(e, "Session {Session}: state write failed for steps {First}-{Last}; rolling back to step {Step} and resynchronising", Id, steps[0].Verdict.Step, S.Step - 1, back.Step);
        _serverPolicy.WriteFailed();
        _conversation.RollBack(back);
        _verifier.Invalidate();
        RebuildReply();
        var error = new StepNotDurableException($"Step {steps[0].Verdict.Step} of session '{Id}' could not be saved; it was rolled back, resynchronise and retry.");
        if (S.AttachedEdge is not null) _edge.Notify(e => e.OnRejected(new TreeRejection(Id, back.Step + 1, error.Message)));
        return error;
    }

    /// <summary>
    /// Starts writing the conversation as it is now. The provider gets a copy: steps committed while the write runs
    /// change the live state, never what this write stores (whenever the provider serializes it).
    /// </summary>
    private async Task StartWrite()
    {
        state.State = copier.Copy(S);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await state.WriteStateAsync();
        SpecEdgeMetrics.StateWrite.Record(clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the conversation and writes it. If the write fails, memory goes back to what
    /// storage holds (a turn marked generating, an edge attached, settings: none of it stays without its write); if it
    /// failed because another activation wrote first (ETag conflict), this activation is stale and deactivates, so the
    /// next call reloads the stored conversation: Orleans' own rule for <see cref="InconsistentStateException"/>, applied
    /// here because the caller-safe error filter replaces the exception before the runtime could see it.
    /// </summary>
    private async Task WriteChangeAsync(Action change)
    {
        await _writes.SettleAsync();
        var before = copier.Copy(S);
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
                logger.LogWarning("Session {Session}: another activation wrote the conversation first; this one deactivates", Id);
                DeactivateOnIdle();
            }
            throw;
        }
    }

    /// <summary>Rebuilds the reply's chunks from durable state: readers see exactly the chunks (and numbers) they saw before.</summary>
    private void RebuildReply() =>
        _reply.Rebuild(S.Committed.Skip(S.ReplyStart).ToArray(), S.ReplyChunkSizes, S.Generating, S.ReplyFinish, S.Settings.StopStrings);

    private async Task CheckEdgeLeaseAsync(CancellationToken cancellationToken)
    {
        if (!S.Generating || S.AttachedEdge is null) return;
        if (!_edge.Expired) return;
        await ReleaseEdgeAsync($"edge {S.AttachedEdge} sent no tree for {models.Options.EdgeLeaseSeconds:F1}s");
    }

    private async Task ReleaseEdgeAsync(string why)
    {
        logger.LogInformation("Session {Session}: {Why}; the server continues the reply at step {Step}", Id, why, S.Step);
        _edge.Release();
        await WriteChangeAsync(_conversation.Release);
        if (S.Generating) ScheduleServerStep();
    }

    private SequenceSnapshot Snapshot() => new(S.Committed.ToArray(), S.ReplyStart, S.Settings, S.Step, S.Generating);

    /// <summary>
    /// The caller's seed, or a fresh random one: a known default (0) would let anyone predict every sample, and a seed
    /// fixed per conversation is what makes its replies reproducible on every path.
    /// </summary>
    /// <returns>The settings with a seed, and who may read it back (<see cref="SeedOwners"/>; null for a seed the session chose).</returns>
    private static (GenerationSettings Settings, string? SeedOwner) WithSeed(GenerationSettings settings) =>
        settings.Seed is null
            ? (settings with { Seed = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) }, null)
            : (settings, SeedOwners.Of(VerifiedCaller.Current));

    private void ApplySettings(GenerationSettings settings)
    {
        var (seeded, owner) = WithSeed(settings);
        _conversation.Configure(seeded, owner);
    }
}
