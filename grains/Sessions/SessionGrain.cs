using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Orleans.BroadcastChannel;
using Orleans.Concurrency;
using Orleans.Placement;
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
/// (or when the attached edge goes quiet past its lease) it decodes on the server. Reentrant so that streaming readers,
/// attaches and trees interleave; every state change happens between awaits, and one step at a time is in flight.
/// </summary>
[Reentrant]
[ActivationCountBasedPlacement]
[ImplicitChannelSubscription(ChannelNames.TreeNamespace)]
public sealed class SessionGrain(
    [PersistentState("session", "sessions")] IPersistentState<SessionState> state,
    ModelHost models,
    ILocalSiloDetails silo,
    ILogger<SessionGrain> logger) : Grain, ISessionGrain, IOnBroadcastChannelSubscribed
{
    // Not persisted: handles and caches that belong to this activation only.
    private IVerifierBatchGrain _verifier = null!;
    private bool _verifierLoaded;
    private IEdgeObserver? _edge;
    private DateTime _lastTreeAt;
    private bool _stepInFlight;
    private bool _turnStarting;
    private Task _serverLoop = Task.CompletedTask;
    private EdgeDrafter? _serverDrafter;
    private readonly List<ReplyChunk> _chunks = new();
    private StreamingDetokenizer? _detokenizer;
    private string _replyText = "";
    private string _heldBack = "";
    private TaskCompletionSource _changed = NewSignal();

    private string Id => this.GetPrimaryKeyString();
    private SessionState S => state.State;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Co-locate with a verifier of this silo; spread sessions over its devices.
        int device = (int)((uint)Id.GetHashCode() % (uint)models.DeviceCount);
        _verifier = GrainFactory.GetGrain<IVerifierBatchGrain>(new VerifierKey(silo.Name, device).ToString());
        this.RegisterGrainTimer(CheckEdgeLeaseAsync, new GrainTimerCreationOptions
        {
            DueTime = TimeSpan.FromSeconds(1), Period = TimeSpan.FromSeconds(0.5), Interleave = true,
        });
        // The chunks readers saw are rebuilt from durable state, numbered as before.
        RebuildChunks();
        if (S.Generating)
        {
            // A reply was in progress when the previous activation died: resume it on the server until an edge returns.
            S.AttachedEdge = null;
            logger.LogInformation("Session {Session} reactivated on {Silo} mid-reply ({Tokens} tokens so far); the server resumes it", Id, silo.Name, S.Committed.Count - S.ReplyStart);
            _serverLoop = RunServerAsync();
        }
        return Task.CompletedTask;
    }

    public Task OnSubscribed(IBroadcastChannelSubscription subscription) =>
        subscription.Attach<TreeSubmission>(OnTreePublishedAsync, e => { logger.LogWarning(e, "Tree channel error"); return Task.CompletedTask; });

    public async Task ConfigureAsync(GenerationSettings settings)
    {
        SessionInputLimits.CheckSettings(settings, models.Options);
        if (S.Generating || _turnStarting) throw new InvalidOperationException("Cannot change settings while a reply is being generated.");
        S.Settings = WithSeed(settings);
        await state.WriteStateAsync();
    }

    public async Task<TurnStarted> SendUserMessageAsync(string text)
    {
        SessionInputLimits.CheckMessage(text, models.Options);
        if (S.Generating || _turnStarting)
            throw new InvalidOperationException($"Session '{Id}' already has a reply in progress; send the next message when it has finished.");
        // Claimed before the first await: this grain is reentrant, so a second call may run while this one awaits the
        // verifier, and S.Generating is only set once the turn is in place.
        _turnStarting = true;
        try
        {
            return await StartTurnAsync(text, Array.Empty<ChatTurn>());
        }
        finally
        {
            _turnStarting = false;
        }
    }

    public async Task<TurnStarted> BeginTurnAsync(TurnRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        SessionInputLimits.CheckSettings(request.Settings, models.Options);
        SessionInputLimits.CheckMessage(request.Text, models.Options);
        SessionInputLimits.CheckHistory(request.History, models.Options);
        if (S.Generating || _turnStarting)
            throw new InvalidOperationException($"Session '{Id}' already has a reply in progress; send the next message when it has finished.");
        if (request.History.Length > 0 && S.Committed.Count > 0)
            throw new InvalidOperationException($"Session '{Id}' already has a conversation; earlier turns can only be replayed into a new one.");
        // Claimed before the first await, as in SendUserMessageAsync.
        _turnStarting = true;
        var previous = S.Settings;
        try
        {
            S.Settings = WithSeed(request.Settings);   // persisted with the turn
            return await StartTurnAsync(request.Text, request.History);
        }
        catch
        {
            if (!S.Generating) S.Settings = previous;
            throw;
        }
        finally
        {
            _turnStarting = false;
        }
    }

    private async Task<TurnStarted> StartTurnAsync(string text, IReadOnlyList<ChatTurn> history)
    {
        string? tenant = await ClaimQuotaAsync();
        try { return await StartClaimedTurnAsync(text, history, tenant); }
        catch
        {
            if (tenant is not null) ReleaseQuota(tenant);
            throw;
        }
    }

    /// <summary>
    /// Takes a reply slot of the verified caller's tenant: a service's own tenant, or for an edge its credential's
    /// tenant (else the conversation id's "tenant/" prefix, else the conversation itself). Operators are not limited.
    /// </summary>
    private async Task<string?> ClaimQuotaAsync()
    {
        int limit = models.Options.MaxActiveRepliesPerTenant;
        var caller = Security.VerifiedCaller.Current;
        if (limit <= 0 || caller is null || caller.Role is not (Contracts.Security.CredentialRole.Service or Contracts.Security.CredentialRole.Edge)) return null;
        string tenant = caller.Tenant is { Length: > 0 } t ? t : Id.Contains('/') ? Id[..Id.IndexOf('/')] : Id;
        if (!await GrainFactory.GetGrain<ITenantQuotaGrain>(tenant).TryStartAsync(Id, limit))
            throw new InvalidOperationException($"Your tenant already has {limit} replies in progress (SpecEdge:MaxActiveRepliesPerTenant); send this message when one has finished.");
        return tenant;
    }

    private void ReleaseQuota(string tenant)
    {
        var release = GrainFactory.GetGrain<ITenantQuotaGrain>(tenant).EndAsync(Id);
        release.ContinueWith(t => logger.LogWarning(t.Exception, "Session {Session}: could not release its reply slot", Id), TaskContinuationOptions.OnlyOnFaulted);
    }

    /// <summary>Frees the finished reply's quota slot, if it holds one.</summary>
    private void EndOfReply()
    {
        if (S.QuotaTenant is { } tenant) ReleaseQuota(tenant);
    }

    private async Task<TurnStarted> StartClaimedTurnAsync(string text, IReadOnlyList<ChatTurn> history, string? tenant)
    {
        if (S.Settings.Seed is null) S.Settings = WithSeed(S.Settings);   // persisted with the turn below
        S.QuotaTenant = tenant;
        var appended = history.Count > 0
            ? TurnFormatter.ConversationTokens(models.Tokenizer, models.ChatFormat, S.Settings, history, text)
            : TurnFormatter.Tokens(models.Tokenizer, models.ChatFormat, S.Committed, S.Settings, text);
        if (S.Committed.Count + appended.Length + 2 > models.Options.MaxContextTokens)
            throw new InvalidOperationException($"The conversation would exceed {models.Options.MaxContextTokens} tokens (MaxContextTokens).");

        // The verifier learns the turn first; only then does it become part of the persisted conversation.
        var committed = S.Committed.Concat(appended).ToArray();
        var opening = new SequenceSnapshot(committed, committed.Length, S.Settings, S.Step, Generating: true);
        if (!_verifierLoaded || S.Committed.Count == 0) await _verifier.OpenAsync(Id, opening);
        else
        {
            try { await _verifier.StartTurnAsync(Id, appended, S.Settings, S.Committed.Count); }
            catch (SessionNotLoadedException) { await _verifier.OpenAsync(Id, opening); }
        }
        _verifierLoaded = true;
        S.Messages.AddRange(history);
        S.Messages.Add(new ChatTurn("user", text));
        S.Committed.AddRange(appended);
        S.ReplyChunkSizes.Clear();
        S.ReplyFinish = null;
        S.ReplyStart = S.Committed.Count;
        S.Generating = true;
        await state.WriteStateAsync();

        _chunks.Clear();
        _replyText = "";
        _heldBack = "";
        _detokenizer = new StreamingDetokenizer(models.Tokenizer, skipSpecialTokens: true);
        _serverDrafter?.Dispose();
        _serverDrafter = null;
        var turn = new TurnStarted(Id, appended, S.Committed.Count, S.Step);
        if (_edge is not null && S.AttachedEdge is not null)
        {
            _lastTreeAt = DateTime.UtcNow;
            _ = _edge.OnTurnStarted(turn);
        }
        else
        {
            _serverLoop = RunServerAsync();
        }
        Signal();
        return turn;
    }

    public async Task<string> ChatAsync(string text)
    {
        await SendUserMessageAsync(text);
        while (_chunks.Count == 0 || !_chunks[^1].Final) await _changed.Task;
        return _replyText;
    }

    public async IAsyncEnumerable<ReplyChunk> StreamReplyAsync(int fromChunk = 0)
    {
        if (fromChunk < 0) throw new ArgumentOutOfRangeException(nameof(fromChunk), $"fromChunk must be 0 or more; got {fromChunk}.");
        int next = fromChunk;
        while (true)
        {
            var signal = _changed.Task;
            while (next < _chunks.Count) yield return _chunks[next++];
            // End on the final chunk, not on the Generating flag: it drops while the last step is being persisted.
            if (_chunks.Count > 0 ? _chunks[^1].Final : !S.Generating) yield break;
            await signal;
        }
    }

    // An edge sees neither the silo nor another edge's id.
    public Task<SessionSnapshot> GetAsync() => Task.FromResult(new SessionSnapshot(Id, S.Messages.ToArray(), S.Committed.Count,
        S.Step, VerifiedCaller.IsEdge && S.AttachedEdge != VerifiedCaller.EdgeIdOr("") ? null : S.AttachedEdge, S.Generating,
        VerifiedCaller.IsEdge ? null : silo.Name, S.Settings.Seed));

    public async Task<EdgeAttachment> AttachEdgeAsync(string edgeId, IEdgeObserver observer)
    {
        edgeId = VerifiedCaller.EdgeIdOr(edgeId);   // an edge is who its credential says, whatever it claims
        ArgumentException.ThrowIfNullOrEmpty(edgeId);
        S.AttachedEdge = edgeId;
        _edge = observer;
        _lastTreeAt = DateTime.UtcNow;
        await _serverLoop;   // the server finishes its current step and yields the reply to the edge
        await state.WriteStateAsync();
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
        if (_edge is null || tree.EdgeId != S.AttachedEdge) return;
        if (verdict is not null) await _edge.OnVerdict(verdict);
        else await _edge.OnRejected(new TreeRejection(Id, tree.Step, error!));
    }

    /// <summary>Validates a tree against the conversation, verifies it, commits the result. Returns the verdict or the reason for refusal.</summary>
    private async Task<(StepVerdict? Verdict, string? Error)> HandleTreeAsync(TreeSubmission tree)
    {
        string? error =
            tree.SessionId != Id ? $"Tree is addressed to session '{tree.SessionId}', not '{Id}'."
            : S.AttachedEdge is null || tree.EdgeId != S.AttachedEdge ? $"Edge '{tree.EdgeId}' is not attached to session '{Id}'."
            : !S.Generating ? $"Session '{Id}' has no reply in progress."
            : _stepInFlight ? $"Step {S.Step} of session '{Id}' is already being verified."
            : tree.Step != S.Step ? $"Tree is for step {tree.Step} but session '{Id}' is at step {S.Step}."
            : tree.CommittedLength != S.Committed.Count ? $"Tree assumes {tree.CommittedLength} committed tokens but session '{Id}' has {S.Committed.Count}."
            : tree.Tokens is null || tree.Parents is null ? "Tree has no tokens or parents."
            : tree.Tokens.Length - 1 > models.Options.MaxTreeNodes ? $"Tree has {tree.Tokens.Length - 1} nodes besides the root; the limit is {models.Options.MaxTreeNodes}."
            : null;
        if (error is not null) return (null, error);

        _stepInFlight = true;
        _lastTreeAt = DateTime.UtcNow;
        try
        {
            await EnsureVerifierAsync();
            var outcome = await CallVerifierAsync(() => _verifier.VerifyAsync(tree));
            await CommitAsync(outcome);
            return (outcome, null);
        }
        catch (ArgumentException e)   // InvalidDraftException and friends: the tree was refused, nothing changed
        {
            return (null, e.Message);
        }
        finally
        {
            _stepInFlight = false;
            _lastTreeAt = DateTime.UtcNow;
        }
    }

    /// <summary>Server-side decoding while no edge is attached: plain steps, or speculative with a server draft model.</summary>
    private async Task RunServerAsync()
    {
        await Task.Yield();
        int failedWrites = 0;
        try
        {
            while (S.Generating && S.AttachedEdge is null)
            {
                _stepInFlight = true;
                StepVerdict outcome;
                try
                {
                    await EnsureVerifierAsync();
                    if (models.ServerDraft is { } draft)
                    {
                        var options = new DraftTreeOptions { Budget = Math.Min(32, models.Options.MaxTreeNodes), Proactive = false };
                        _serverDrafter ??= new EdgeDrafter(draft, S.Committed, options, models.Options.MaxContextTokens + options.DraftCacheHeadroom, S.Step)
                            { ContextLimit = models.Options.MaxContextTokens };
                        var drafter = _serverDrafter;
                        // On the device thread: the server draft model is shared by every session of this silo.
                        var message = await models.Worker(0).RunAsync(drafter.BuildTree);
                        outcome = await CallVerifierAsync(() => _verifier.VerifyAsync(new TreeSubmission(Id, "server", message.Step, message.CommittedLength, message.Tokens, message.Parents)));
                        await models.Worker(0).RunAsync(() => { drafter.ApplyVerdict(new VerdictMessage(outcome.Step, outcome.AcceptedTokens, outcome.Finished)); return 0; });
                    }
                    else
                    {
                        outcome = await CallVerifierAsync(() => _verifier.DecodeAsync(Id, S.Step));
                    }
                }
                finally
                {
                    _stepInFlight = false;
                }
                try
                {
                    await CommitAsync(outcome);
                    failedWrites = 0;
                }
                catch (Exception e) when (e is not InconsistentStateException && ++failedWrites < 3)
                {
                    // Rolled back to the durable state (see CommitAsync): redo the step from there after a pause.
                    _serverDrafter?.Dispose();
                    _serverDrafter = null;
                    await Task.Delay(TimeSpan.FromMilliseconds(200 * failedWrites));
                }
            }
        }
        catch (Exception e)
        {
            logger.LogError(e, "Session {Session}: server decoding failed at step {Step}", Id, S.Step);
            S.Generating = false;
            S.ReplyChunkSizes.Add(0);
            S.ReplyFinish = "Error: " + CallerSafeErrorsFilter.MessageFor(e);   // every reader of the reply sees it
            // Persist the end of the reply, so that a reactivation does not resume a reply that failed for good.
            try { await state.WriteStateAsync(); }
            catch (Exception write) { logger.LogWarning(write, "Session {Session}: could not persist the failed reply's end", Id); }
            EndOfReply();
            PublishChunk(Array.Empty<int>(), Visible(Detokenize(Array.Empty<int>(), final: true), final: true), final: true, reason: S.ReplyFinish);
        }
        finally
        {
            _serverDrafter?.Dispose();
            _serverDrafter = null;
        }
    }

    /// <summary>Applies a verifier outcome: commit, persist (before anyone sees it as final), then publish.</summary>
    private async Task CommitAsync(StepVerdict v)
    {
        if (v.Step != S.Step) throw new InvalidOperationException($"Verifier answered step {v.Step} while session '{Id}' is at step {S.Step}.");
        int committedBefore = S.Committed.Count, messagesBefore = S.Messages.Count;
        S.Committed.AddRange(v.AcceptedTokens);
        S.Step = v.Step + 1;
        string? reason = null;
        if (v.Finished)
        {
            S.Generating = false;
            reason = v.FinishReason;
        }
        string delta = Visible(Detokenize(v.AcceptedTokens, v.Finished), v.Finished);
        if (v.Finished) S.Messages.Add(new ChatTurn("assistant", _replyText + delta));
        S.ReplyChunkSizes.Add(v.AcceptedTokens.Length);
        if (v.Finished) S.ReplyFinish = reason;
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException e)
        {
            // Another activation of this session wrote first (e.g. during a failover): this one is stale. It must not
            // publish tokens it could not make durable; deactivate so the next call reloads the stored conversation.
            logger.LogWarning(e, "Session {Session}: stale activation lost a storage race at step {Step}; deactivating", Id, v.Step);
            DeactivateOnIdle();
            throw;
        }
        catch (Exception e)
        {
            // The step is not durable, so nobody may see it: back to the last durable state. The verifier already
            // committed it, so it is made to rebuild from that state, and the reply text is re-derived from it.
            logger.LogWarning(e, "Session {Session}: state write failed at step {Step}; rolling back and resynchronising", Id, v.Step);
            S.Committed.RemoveRange(committedBefore, S.Committed.Count - committedBefore);
            S.Messages.RemoveRange(messagesBefore, S.Messages.Count - messagesBefore);
            S.Step = v.Step;
            S.Generating = true;
            S.ReplyChunkSizes.RemoveAt(S.ReplyChunkSizes.Count - 1);
            S.ReplyFinish = null;
            _verifierLoaded = false;
            RebuildChunks();
            throw new StepNotDurableException($"Step {v.Step} of session '{Id}' could not be saved ({e.Message}); it was rolled back, resynchronise and retry.");
        }
        PublishChunk(v.AcceptedTokens, delta, v.Finished, reason);
        if (v.Finished) EndOfReply();
    }

    /// <summary>New text for <paramref name="tokens"/>; never half a character, except what <paramref name="final"/> flushes.</summary>
    private string Detokenize(int[] tokens, bool final)
    {
        _detokenizer ??= new StreamingDetokenizer(models.Tokenizer, skipSpecialTokens: true);
        return _detokenizer.Push(tokens) + (final ? _detokenizer.Flush() : "");
    }

    /// <summary>
    /// What readers may see of new text: a tail that could still grow into a stop string is held back until it either
    /// does (then it and what follows are dropped) or cannot any more. So no reader ever sees part of a stop string.
    /// </summary>
    private string Visible(string delta, bool final)
    {
        string text = _heldBack + delta;
        var stops = S.Settings.StopStrings;
        if (final)
        {
            _heldBack = "";
            return StopCriteria.TrimAtStopString(text, stops);
        }
        int hold = 0;
        foreach (var stop in stops)
            for (int n = Math.Min(stop.Length - 1, text.Length); n > hold; n--)
                if (text.AsSpan(text.Length - n).SequenceEqual(stop.AsSpan(0, n))) { hold = n; break; }
        _heldBack = text[(text.Length - hold)..];
        return text[..(text.Length - hold)];
    }

    /// <summary>
    /// Rebuilds the reply's chunks, the detokenizer and the held-back tail from durable state: the same tokens pushed
    /// through the same steps give the same texts, so readers see exactly the chunks (and numbers) they saw before.
    /// State written before chunk sizes were persisted gives one chunk for the reply so far.
    /// </summary>
    private void RebuildChunks()
    {
        _chunks.Clear();
        _replyText = "";
        _heldBack = "";
        _detokenizer = new StreamingDetokenizer(models.Tokenizer, skipSpecialTokens: true);
        var reply = S.Committed.Skip(S.ReplyStart).ToArray();
        var sizes = S.ReplyChunkSizes.Sum() == reply.Length ? S.ReplyChunkSizes : reply.Length > 0 ? new List<int> { reply.Length } : new List<int>();
        int position = 0;
        for (int i = 0; i < sizes.Count; i++)
        {
            bool final = !S.Generating && i == sizes.Count - 1;
            var tokens = reply[position..(position + sizes[i])];
            position += sizes[i];
            PublishChunk(tokens, Visible(Detokenize(tokens, final), final), final, final ? S.ReplyFinish : null);
        }
    }

    private void PublishChunk(int[] tokens, string text, bool final, string? reason)
    {
        _replyText += text;
        _chunks.Add(new ReplyChunk(_chunks.Count, text, tokens, final, reason));
        Signal();
    }

    private async Task CheckEdgeLeaseAsync(CancellationToken cancellationToken)
    {
        if (!S.Generating || S.AttachedEdge is null || _stepInFlight) return;
        if (DateTime.UtcNow - _lastTreeAt < TimeSpan.FromSeconds(models.Options.EdgeLeaseSeconds)) return;
        await ReleaseEdgeAsync($"edge {S.AttachedEdge} sent no tree for {models.Options.EdgeLeaseSeconds:F1}s");
    }

    private async Task ReleaseEdgeAsync(string why)
    {
        logger.LogInformation("Session {Session}: {Why}; the server continues the reply at step {Step}", Id, why, S.Step);
        S.AttachedEdge = null;
        _edge = null;
        await state.WriteStateAsync();
        if (S.Generating && _serverLoop.IsCompleted) _serverLoop = RunServerAsync();
    }

    private async Task EnsureVerifierAsync()
    {
        if (_verifierLoaded) return;
        await _verifier.OpenAsync(Id, Snapshot());
        _verifierLoaded = true;
    }

    /// <summary>Calls the verifier; if it lost this session (restart, eviction), reloads it from our state and retries once.</summary>
    private async Task<T> CallVerifierAsync<T>(Func<Task<T>> call)
    {
        try { return await call(); }
        catch (SessionNotLoadedException e)
        {
            logger.LogInformation("Session {Session}: {Reason}; rebuilding the verifier's KV cache", Id, e.Message);
            await _verifier.OpenAsync(Id, Snapshot());
            return await call();
        }
    }

    private async Task CallVerifierAsync(Func<Task> call) => await CallVerifierAsync(async () => { await call(); return 0; });

    private SequenceSnapshot Snapshot() => new(S.Committed.ToArray(), S.ReplyStart, S.Settings, S.Step, S.Generating);

    /// <summary>
    /// The caller's seed, or a fresh random one: a known default (0) would let anyone predict every sample, and a seed
    /// fixed per conversation is what makes its replies reproducible on every path.
    /// </summary>
    private static GenerationSettings WithSeed(GenerationSettings settings) =>
        settings.Seed is null ? settings with { Seed = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) } : settings;

    private void Signal()
    {
        var old = _changed;
        _changed = NewSignal();
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
