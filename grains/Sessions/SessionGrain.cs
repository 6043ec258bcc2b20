using Microsoft.Extensions.Logging;
using Orleans.BroadcastChannel;
using Orleans.Placement;
using Orleans.Serialization;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.Grains.Verification;

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
/// The grain routes; the parts do the work: <see cref="Conversation"/> is the only code that changes the state,
/// <see cref="SessionCommits"/> makes changes durable (verdicts go out before their write, readers see a step once it
/// is written, a failed write rolls back), <see cref="TurnAdmission"/> and <see cref="TurnStarter"/> start turns,
/// <see cref="TreeIntake"/> takes an edge's trees, <see cref="ServerDecoding"/> decodes while no edge is attached,
/// <see cref="EdgeLease"/> decides when an edge has gone quiet (docs/architecture.md).
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
    private ServerDecoding _server = null!;
    private TreeIntake _trees = null!;
    private TurnStarter _turns = null!;
    /// <summary>When the server's decoding retries a failed step, waits for capacity, or gives the reply up.</summary>
    private readonly ServerStepPolicy _serverPolicy = new(clock);
    private TurnAdmission _admission = null!;
    private ReplyStream _reply = null!;
    /// <summary>The state writes: one in flight, group commit of steps, durable or rolled back together; what readers see.</summary>
    private SessionCommits _commits = null!;
    /// <summary>
    /// The conversation as this activation knows it, including steps not yet durable. The storage provider is handed a
    /// copy for each write, so what a write stores is the state when it began, whatever is committed while it runs.
    /// </summary>
    private Conversation _conversation = null!;

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
        _conversation = new Conversation(state.State);
        // The chunks readers saw are rebuilt from durable state, numbered as before.
        _commits = new SessionCommits(Id, _conversation, state, copier, _reply, _verifier, _edge, _serverPolicy, _admission,
            models.Options.PipelinedStateWrites, DeactivateOnIdle, logger);
        _server = new ServerDecoding(this, Id, _conversation, _verifier, _commits, _serverPolicy, logger, () => _trees.DecodingWhileEdgeDrafts);
        _trees = new TreeIntake(Id, _conversation, _verifier, _commits, _edge, models.Options, models.VocabSize, logger, () => _stopsPending > 0, () => _server.Schedule());
        _turns = new TurnStarter(Id, _conversation, models, _verifier, _commits, _reply, _edge, _server, logger);
        SpecEdgeMetrics.SessionActivated();
        if (S.Generating)
        {
            // A reply was in progress when the previous activation died: resume it on the server until an edge returns.
            _conversation.Release();
            logger.LogInformation("Session {Session} reactivated on {Silo} mid-reply ({Tokens} tokens so far); the server resumes it", Id, silo.Name, S.Committed.Count - S.ReplyStart);
            _server.Schedule();
        }
        return Task.CompletedTask;
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // A graceful deactivation (idle, silo shutdown) stores the steps still unwritten, so the next activation resumes
        // after them; the edge already has their verdicts. A failed write has already rolled them back.
        try { await _commits.SettleAsync().WaitAsync(cancellationToken); }
        catch (OperationCanceledException) { }
        SpecEdgeMetrics.SessionDeactivated();
    }

    public Task OnSubscribed(IBroadcastChannelSubscription subscription) =>
        subscription.Attach<TreeSubmission>(OnTreePublishedAsync, e => { logger.LogWarning(e, "Tree channel error"); return Task.CompletedTask; });

    public async Task ConfigureAsync(GenerationSettings settings)
    {
        SessionInputLimits.CheckSettings(settings, models.Options, models.VocabSize);
        await _commits.SettleAsync();
        if (S.Generating) throw new InvalidOperationException("Cannot change settings while a reply is being generated.");
        var (seeded, owner) = TurnStarter.WithSeed(settings);   // under the caller's identity: it may own the seed
        await _commits.WriteChangeAsync(() => _conversation.Configure(seeded, owner));
    }

    public async Task<TurnStarted> SendUserMessageAsync(string text)
    {
        SessionInputLimits.CheckMessage(text, models.Options);
        await _commits.SettleAsync();
        _conversation.ThrowIfReplyInProgress(Id);
        string? tenant = await _admission.ClaimAsync(VerifiedCaller.Current);
        return await StartTurnAsync(text, tenant);
    }

    public async Task<TurnStarted> BeginTurnAsync(TurnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        SessionInputLimits.CheckSettings(request.Settings, models.Options, models.VocabSize);
        SessionInputLimits.CheckMessage(request.Text, models.Options);
        SessionInputLimits.CheckRole(request.Role, models.ChatFormat);
        SessionInputLimits.CheckToolCallId(request.ToolCallId, nameof(request.ToolCallId));
        SessionInputLimits.CheckHistory(request.History, models.Options);
        await _commits.SettleAsync();
        _conversation.ThrowIfReplyInProgress(Id);
        if (request.History.Length > 0 && S.Committed.Count > 0)
            throw new InvalidOperationException($"Session '{Id}' already has a conversation; earlier turns can only be replayed into a new one.");
        string? tenant = await _admission.ClaimAsync(VerifiedCaller.Current);
        // The settings become the session's with the turn, in its one state write.
        return await _admission.HoldingAsync(tenant, () => _turns.StartAsync(request.Text, tenant, request.History, request.Settings, request.Role, request.ToolCallId));
    }

    public async Task<string> ChatAsync(string text)
    {
        // Interleaved (it waits for the whole reply): everything that changes the conversation happens in the
        // non-interleaved StartTurnAsync request. The quota is taken here, under the caller's verified identity.
        SessionInputLimits.CheckMessage(text, models.Options);
        _conversation.ThrowIfReplyInProgress(Id);
        string? tenant = await _admission.ClaimAsync(VerifiedCaller.Current);
        await _admission.HoldingAsync(tenant, () => this.AsReference<ISessionControl>().StartTurnAsync(text, tenant));
        return await _reply.WaitForEndAsync();
    }

    /// <summary>Starts a turn whose quota slot (if any) is already taken; gives the slot back if the turn does not start.</summary>
    public Task<TurnStarted> StartTurnAsync(string text, string? tenant) => _admission.HoldingAsync(tenant, async () =>
    {
        SessionInputLimits.CheckMessage(text, models.Options);
        await _commits.SettleAsync();
        _conversation.ThrowIfReplyInProgress(Id);
        return await _turns.StartAsync(text, tenant);
    });

    public async Task<bool> StopReplyAsync()
    {
        // Interleaved: while a stop is on its way, a hand-back run ends at its next step and no new one starts. The stop
        // goes through the grain's queue (a call to itself, as the silo), behind the request in progress.
        _stopsPending++;
        try { return await this.AsReference<ISessionGrain>().EndReplyAsync(); }
        finally { _stopsPending--; }
    }

    /// <summary>Stops pending (<see cref="StopReplyAsync"/>): hand-back runs end at their next step while there are any.</summary>
    private int _stopsPending;

    public async Task<bool> EndReplyAsync()
    {
        await _commits.SettleAsync();
        if (!S.Generating) return false;
        await _commits.StopReplyAsync();
        return true;
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
        var d = _commits.Durable;
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
        await _commits.WriteChangeAsync(() => _conversation.Attach(edgeId));
        _trees.StopDecodingForEdge();   // the attaching edge drafts from the state it is given now
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
        var (verdict, error) = await _trees.HandleAsync(TreeIntake.AsSent(tree) ?? throw new ArgumentNullException(nameof(tree)));
        return verdict ?? throw new ArgumentException(error);
    }

    private async Task OnTreePublishedAsync(TreeSubmission published)
    {
        if (TreeIntake.AsSent(published) is not { } tree) return;   // nothing to answer, and no one to answer it to
        StepVerdict? verdict;
        string? error;
        try { (verdict, error) = await _trees.HandleAsync(tree); }
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

    private async Task CheckEdgeLeaseAsync(CancellationToken cancellationToken)
    {
        if (!S.Generating || S.AttachedEdge is null) return;
        if (!_edge.Expired) return;
        await ReleaseEdgeAsync($"edge {S.AttachedEdge} sent no tree for {models.Options.EdgeLeaseSeconds:F1}s");
    }

    private async Task ReleaseEdgeAsync(string why)
    {
        logger.LogInformation("Session {Session}: {Why}; the server continues the reply at step {Step}", Id, why, S.Step);
        _trees.StopDecodingForEdge();
        _edge.Release();
        await _commits.WriteChangeAsync(_conversation.Release);
        if (S.Generating) _server.Schedule();
    }

    private SequenceSnapshot Snapshot() => new(S.Committed.ToArray(), S.ReplyStart, S.Settings, S.Step, S.Generating);
}
