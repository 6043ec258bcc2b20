using System.Diagnostics;
using Orleans.BroadcastChannel;
using SpecEdge.Contracts;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.EdgeClient;

/// <summary>
/// An edge host's side of one conversation: attaches to the session grain, drafts a tree per step with the local draft
/// model, pushes it to the cluster, pre-drafts the next tree while the verdict travels, and applies the verdict.
/// Verdicts arrive through a one-way grain observer; a step that gets no answer in time triggers a re-attach.
/// Two ways to the cluster: an Orleans client (operator-run edges holding a cluster-CA certificate) or the silo's edge
/// gateway (<see cref="GatewayEdgeLink"/>, every other edge); drafting, resync and replay are the same on both.
/// </summary>
public sealed class EdgeSession : IEdgeObserver, IDisposable
{
    private readonly IClusterClient? _client;
    private readonly GatewayEdgeLink? _gateway;
    private readonly CausalLm _draft;
    private readonly DraftTreeOptions _options;
    private readonly int _capacity;
    private readonly TreeTransport _transport;
    private readonly ISessionGrain? _session;
    private IBroadcastChannelWriter<TreeSubmission>? _writer;
    private IEdgeObserver? _observerReference;   // strong reference: observers are weakly held by Orleans
    private TreeDrafter? _drafter;
    private TaskCompletionSource<StepVerdict>? _awaiting;
    private long _awaitingStep = -1;
    /// <summary>The early verdict of the awaited step, when the silo sends early verdicts (see <see cref="OnEarlyVerdict"/>).</summary>
    private TaskCompletionSource<EarlyStepVerdict>? _early;
    /// <summary>When the awaited verdict arrived (Unix microseconds), taken in the observer call before any continuation runs.</summary>
    private long _verdictArrived;
    private TaskCompletionSource<TurnStarted> _turnStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>The reply's first tokens as the server decoded them with the turn, not yet shown to RunReplyAsync's reader.</summary>
    private int[] _firstTokens = [];

    public string SessionId { get; }
    public string EdgeId { get; }
    public TimeSpan StepTimeout { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Benchmarks: a tree takes at least this long to draft (the real draft runs, then the rest is waited out). It stands
    /// for the draft time of the edge's own GPU when many emulated edges share a few CPU cores, so that what is measured
    /// is the cluster's schedule, not CPU contention. Zero: drafting takes what it takes.
    /// </summary>
    public TimeSpan EmulatedDraftTime { get; init; }
    public IReadOnlyList<int> Committed => _drafter?.Committed ?? Array.Empty<int>();
    /// <summary>
    /// Where the reply this edge last started begins in <see cref="Committed"/>: the tokens before it are the prompt.
    /// Committed may already hold the reply's first tokens (the server decodes them with the turn, SpecEdge:ServerFirstToken).
    /// </summary>
    public int ReplyStart { get; private set; }
    /// <summary>The committed tokens before the reply this edge last started: the prompt its reply continues.</summary>
    public int[] Prompt => Committed.Take(ReplyStart).ToArray();
    /// <summary>Early verdicts the silo sent this edge, in time for their step or not (diagnostics).</summary>
    public int EarlyVerdictsReceived => Volatile.Read(ref _earlyVerdictsReceived);
    private int _earlyVerdictsReceived;
    /// <summary>
    /// The draft model's tokens for structured output: with it, a reply this edge started with a JSON response format
    /// is drafted under the same grammar the verifier masks the target with, so its trees hold only allowed tokens.
    /// Without it the edge drafts freely and the verifier still decodes the JSON losslessly, accepting less.
    /// </summary>
    public TokenMasker? Masker { get; init; }
    /// <summary>How the model writes function calls, for drafting forced calls under the verifier's grammar (Qwen's when not set).</summary>
    public ToolCallSyntax? ToolCalls { get; init; }
    // The grammar of the reply this edge started (and where that reply begins); null when it drafts freely.
    private (JsonGrammar? Grammar, int ReplyStart) _replyGrammar;
    /// <summary>Told of every tree <see cref="RunReplyAsync"/> drafts, before it is sent (the benchmarks record replies' trees with it).</summary>
    public Action<DraftMessage>? TreeDrafted { get; set; }

    public EdgeSession(IClusterClient client, CausalLm draft, string sessionId, string edgeId, DraftTreeOptions options, int capacity, TreeTransport transport = TreeTransport.Channel)
    {
        _client = client; _draft = draft; _options = options; _capacity = capacity; _transport = transport;
        SessionId = sessionId; EdgeId = edgeId;
        _session = client.GetGrain<ISessionGrain>(sessionId);
    }

    /// <summary>An edge session over the edge gateway: drafting only (chat goes through the HTTP API).</summary>
    public EdgeSession(GatewayEdgeLink gateway, CausalLm draft, string sessionId, string edgeId, DraftTreeOptions options, int capacity)
    {
        _gateway = gateway; _draft = draft; _options = options; _capacity = capacity; _transport = TreeTransport.DirectCall;
        SessionId = sessionId; EdgeId = edgeId;
        gateway.TurnStarted += turn => OnTurnStarted(turn);
        gateway.EarlyVerdict += verdict => OnEarlyVerdict(verdict);
    }

    /// <summary>The session grain, for the chat calls only an Orleans client can make.</summary>
    private ISessionGrain Session => _session ?? throw new InvalidOperationException(
        "This edge reaches its conversation through the edge gateway, which carries drafting only; send messages through the HTTP API.");

    /// <summary>Attaches (or re-attaches) to the session and rebuilds the draft state from its committed tokens.</summary>
    public async Task<EdgeAttachment> AttachAsync()
    {
        EdgeAttachment attachment;
        if (_gateway is not null) attachment = await _gateway.AttachAsync(StepTimeout);
        else
        {
            _observerReference ??= _client!.CreateObjectReference<IEdgeObserver>(this);
            if (_transport == TreeTransport.Channel)
                _writer ??= _client!.GetBroadcastChannelProvider(ChannelNames.Provider)
                    .GetChannelWriter<TreeSubmission>(ChannelId.Create(ChannelNames.TreeNamespace, SessionId));
            attachment = await _session!.AttachEdgeAsync(EdgeId, _observerReference);
        }
        if (attachment.VocabSize != _draft.Config.VocabSize)
            throw new InvalidOperationException($"Draft vocabulary ({_draft.Config.VocabSize}) differs from the target's ({attachment.VocabSize}): the models must share a tokenizer.");
        _drafter?.Dispose();
        // Trees shaped to the verifier's limits are never refused for their size, even at the end of the context.
        var options = _options with
        {
            GreedyVerification = attachment.Temperature <= 0,
            Budget = attachment.MaxTreeNodes > 0 ? Math.Min(_options.Budget, attachment.MaxTreeNodes) : _options.Budget,
        };
        // The server's limit is the adaptive policy's ceiling too: its minimum may not exceed it.
        if (options.Adaptive is { } adaptive && adaptive.MinBudget > options.Budget) options = options with { Adaptive = adaptive with { MinBudget = options.Budget } };
        int contextLimit = attachment.MaxContextTokens > 0 ? attachment.MaxContextTokens : int.MaxValue;
        // A conversation can now run up to the verifier's context: the draft cache must hold that and a step's candidates.
        int capacity = attachment.MaxContextTokens > 0 ? Math.Max(_capacity, attachment.MaxContextTokens + options.DraftCacheHeadroom) : _capacity;
        _drafter = attachment.Committed.Length > 0
            // A reply that is over (the server's first token may have ended it) leaves nothing to draft.
            ? new TreeDrafter(_draft, attachment.Committed, options, capacity, attachment.Step, finished: !attachment.Generating) { ContextLimit = contextLimit }
            : null;
        return attachment;
    }

    /// <summary>The conversation's messages as durably stored.</summary>
    public async Task<ChatTurn[]> ReadMessagesAsync() =>
        _gateway is not null ? await _gateway.ReadMessagesAsync(StepTimeout) : (await Session.GetAsync()).Messages;

    /// <summary>Sends a user message; the reply is then produced by <see cref="RunReplyAsync"/>.</summary>
    public async Task SendAsync(string text)
    {
        await FollowTurnAsync(await Session.SendUserMessageAsync(text));
        _replyGrammar = (null, 0);      // the session's default settings: free text
    }

    /// <summary>Starts a turn with its own settings (and, in a new conversation, earlier turns); then as <see cref="SendAsync"/>.</summary>
    public async Task<TurnStarted> BeginTurnAsync(TurnRequest request)
    {
        var turn = _gateway is not null ? await _gateway.BeginTurnAsync(request, StepTimeout) : await Session.BeginTurnAsync(request);
        await FollowTurnAsync(turn);
        // The session accepted the settings, so their grammar builds here too (the same rule, the same text).
        var settings = request.Settings;
        JsonGrammar? grammar;
        try { grammar = ReplyGrammar.Of((int)settings.Format, settings.JsonSchema, settings.ToolChoice, settings.ToolName, settings.Tools, settings.ParallelToolCalls, ToolCalls); }
        catch (ArgumentException) { grammar = null; }    // the turn has started: draft freely rather than fail it (the verifier decides)
        _replyGrammar = (grammar, turn.CommittedLength);
        return turn;
    }

    private async Task FollowTurnAsync(TurnStarted turn)
    {
        Expect(turn);
        if (_drafter is null || _drafter.Committed.Count + turn.AppendedTokens.Length != turn.CommittedLength)
            await AttachAsync();   // out of sync (first turn, or someone else wrote): take the session's tokens
        else
            _drafter.StartTurn(turn.CommittedTokens, turn.DraftStep, turn.Finished);
    }

    /// <summary>A turn began: the server's first tokens of its reply (SpecEdge:ServerFirstToken) go to RunReplyAsync's reader first.</summary>
    private void Expect(TurnStarted turn)
    {
        _firstTokens = turn.FirstTokens ?? [];
        ReplyStart = turn.CommittedLength;
    }

    /// <summary>Drafts and submits trees until the reply is finished; <paramref name="onTokens"/> sees each step's new tokens.</summary>
    public async Task<ReplyStats> RunReplyAsync(Action<int[]>? onTokens = null, CancellationToken cancellation = default)
    {
        var wall = Stopwatch.StartNew();
        var clock = new Stopwatch();
        double draftSeconds = 0, waitSeconds = 0;
        int steps = 0, tokens = 0, hits0 = _drafter?.ProactiveHits ?? 0, misses0 = _drafter?.ProactiveMisses ?? 0;
        int earlyHits0 = _drafter?.EarlyHits ?? 0, earlyMisses0 = _drafter?.EarlyMisses ?? 0;
        var stepMs = new List<double>();
        var serverMs = new List<double>();
        var timings = new List<EdgeStepTiming>();
        if (TakeFirstTokens() is { Length: > 0 } first)
        {
            tokens += first.Length;
            onTokens?.Invoke(first);
        }
        while (_drafter is { Finished: false } drafter)
        {
            cancellation.ThrowIfCancellationRequested();
            clock.Restart();
            var tree = drafter.NextTree(_replyGrammar.Grammar, _replyGrammar.ReplyStart, Masker);
            TreeDrafted?.Invoke(tree);
            await WaitOutDraftTimeAsync(clock, cancellation);
            double draftMs = clock.Elapsed.TotalMilliseconds;
            draftSeconds += clock.Elapsed.TotalSeconds;
            EdgeMetrics.DraftMilliseconds.Record(clock.Elapsed.TotalMilliseconds);
            EdgeMetrics.TreeNodes.Record(tree.Tokens.Length);
            var submission = new TreeSubmission(SessionId, EdgeId, tree);

            var step = Stopwatch.StartNew();
            long sent = StepTiming.NowUnixMicroseconds();
            double preDraftMs = 0;
            StepVerdict verdict;
            // Work done while the verdict travels (proactive bet, drafting ahead on an early verdict) counts as drafting.
            void WhileWaiting(Action work)
            {
                clock.Restart();
                work();
                draftSeconds += clock.Elapsed.TotalSeconds;
                preDraftMs += clock.Elapsed.TotalMilliseconds;
            }
            try
            {
                verdict = await SubmitAsync(submission, arrived => WhileWaiting(() => drafter.PreDraft(arrived)),
                    (early, arrived) => WhileWaiting(() => drafter.DraftAhead(early.Step, early.AcceptedTokens, arrived)));
            }
            catch (Exception e) when (e is TimeoutException or ArgumentException or InvalidOperationException)
            {
                // Lost or refused step (stale after a server takeover, gateway change): resynchronise and go on.
                EdgeMetrics.Resyncs.Add(1);
                var attachment = await AttachAsync();
                if (!attachment.Generating) break;
                continue;
            }
            stepMs.Add(step.Elapsed.TotalMilliseconds);
            serverMs.Add(verdict.ServerMilliseconds);
            waitSeconds += step.Elapsed.TotalSeconds;
            long arrived = _transport == TreeTransport.Channel ? Volatile.Read(ref _verdictArrived) : StepTiming.NowUnixMicroseconds();
            clock.Restart();
            drafter.Complete(verdict.Verdict, new VerifierLoad(verdict.BatchSize, verdict.QueueLength, verdict.ServerMilliseconds, step.Elapsed.TotalMilliseconds, verdict.VerifiedNodes));
            steps++;
            tokens += verdict.AcceptedTokens.Length;
            EdgeMetrics.Steps.Add(1);
            EdgeMetrics.Tokens.Add(verdict.AcceptedTokens.Length);
            EdgeMetrics.TokensPerStep.Record(verdict.AcceptedTokens.Length);
            EdgeMetrics.StepMilliseconds.Record(step.Elapsed.TotalMilliseconds);
            onTokens?.Invoke(verdict.AcceptedTokens);
            timings.Add(new EdgeStepTiming(draftMs, sent, arrived, clock.Elapsed.TotalMilliseconds, preDraftMs, verdict.AcceptedTokens.Length, verdict.Timing));
        }
        return new ReplyStats(steps, tokens, draftSeconds, waitSeconds, wall.Elapsed.TotalSeconds,
            (_drafter?.ProactiveHits ?? 0) - hits0, (_drafter?.ProactiveMisses ?? 0) - misses0, stepMs, serverMs)
        {
            Timings = timings, EarlyHits = (_drafter?.EarlyHits ?? 0) - earlyHits0, EarlyMisses = (_drafter?.EarlyMisses ?? 0) - earlyMisses0,
        };
    }

    /// <summary>
    /// The reply's first tokens that the server decoded with the turn (SpecEdge:ServerFirstToken), once: the reply's
    /// reader sees them before the edge's first tree. <see cref="RunReplyAsync"/> takes them itself.
    /// </summary>
    public int[] TakeFirstTokens()
    {
        var first = _firstTokens;
        _firstTokens = [];
        return first;
    }

    /// <summary>
    /// Submits one tree built elsewhere (a recording of an earlier reply, in the benchmarks' draft replay) and waits for its
    /// verdict, as <see cref="RunReplyAsync"/> submits its own: no drafting, no bets, nothing applied to a drafter.
    /// Returns the verdict with when the tree left and when the verdict arrived (Unix microseconds).
    /// </summary>
    public async Task<(StepVerdict Verdict, long Sent, long Arrived)> SubmitTreeAsync(DraftMessage tree)
    {
        long sent = StepTiming.NowUnixMicroseconds();
        var verdict = await SubmitAsync(new TreeSubmission(SessionId, EdgeId, tree), _ => { }, null);
        long arrived = _transport == TreeTransport.Channel ? Volatile.Read(ref _verdictArrived) : StepTiming.NowUnixMicroseconds();
        return (verdict, sent, arrived);
    }

    /// <summary>The rest of <see cref="EmulatedDraftTime"/> since <paramref name="drafting"/> started, waited out.</summary>
    public async Task WaitOutDraftTimeAsync(Stopwatch drafting, CancellationToken cancellation)
    {
        // Timers here follow a coarse clock (~4 ms) and may fire early: wait until the time has really passed.
        // (The time left is read once per wait: read twice, it can turn negative in between on a loaded machine.)
        for (var left = EmulatedDraftTime - drafting.Elapsed; left > TimeSpan.Zero; left = EmulatedDraftTime - drafting.Elapsed)
            await Task.Delay(left + TimeSpan.FromMilliseconds(0.5), cancellation);
    }

    /// <summary>
    /// Sends a tree and waits for its verdict. Meanwhile (hidden behind the round trip) the edge bets on the outcome with
    /// <paramref name="preDraft"/> (proactive drafting), then, if an early verdict comes before the verdict, drafts ahead
    /// on it with <paramref name="draftAhead"/>. Both only prepare the next tree (the verdict alone decides), and both are
    /// given the verdict's arrival, to stop at once rather than hold the next step back.
    /// </summary>
    private async Task<StepVerdict> SubmitAsync(TreeSubmission tree, Action<Func<bool>> preDraft, Action<EarlyStepVerdict, Func<bool>>? draftAhead)
    {
        var early = new TaskCompletionSource<EarlyStepVerdict>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _early, early);
        Volatile.Write(ref _awaitingStep, tree.Step);
        async Task WhileWaitingAsync(Task verdict)
        {
            bool Arrived() => verdict.IsCompleted;
            if (_options.Proactive) preDraft(Arrived);
            if (draftAhead is null || !_options.DraftAhead) return;
            if (await Task.WhenAny(verdict, early.Task, Task.Delay(StepTimeout)) == early.Task && !verdict.IsCompleted)
                draftAhead(early.Task.Result, Arrived);
        }
        if (_gateway is not null) return await _gateway.SubmitAsync(tree, WhileWaitingAsync, StepTimeout);
        if (_transport == TreeTransport.DirectCall)
        {
            var call = _session!.SubmitTreeAsync(tree);
            await WhileWaitingAsync(call);
            return await call;
        }
        var waiter = new TaskCompletionSource<StepVerdict>(TaskCreationOptions.RunContinuationsAsynchronously);
        _awaiting = waiter;
        var deadline = Task.Delay(StepTimeout);
        await _writer!.Publish(tree);
        await WhileWaitingAsync(waiter.Task);
        var done = await Task.WhenAny(waiter.Task, deadline);
        if (done != waiter.Task) throw new TimeoutException($"No verdict for step {tree.Step} of session '{SessionId}' within {StepTimeout.TotalSeconds:F0}s.");
        return await waiter.Task;
    }

    public Task OnVerdict(StepVerdict verdict)
    {
        if (verdict.Step == Volatile.Read(ref _awaitingStep))
        {
            Volatile.Write(ref _verdictArrived, StepTiming.NowUnixMicroseconds());
            _awaiting?.TrySetResult(verdict);
        }
        return Task.CompletedTask;
    }

    /// <summary>An early verdict counts only for the step awaited now; one that comes after its verdict is stale and dropped.</summary>
    public Task OnEarlyVerdict(EarlyStepVerdict verdict)
    {
        Interlocked.Increment(ref _earlyVerdictsReceived);
        if (verdict.Step == Volatile.Read(ref _awaitingStep)) Volatile.Read(ref _early)?.TrySetResult(verdict);
        return Task.CompletedTask;
    }

    public Task OnRejected(TreeRejection rejection)
    {
        if (rejection.Step == Volatile.Read(ref _awaitingStep)) _awaiting?.TrySetException(new ArgumentException(rejection.Error));
        return Task.CompletedTask;
    }

    public Task OnTurnStarted(TurnStarted turn)
    {
        _turnStarted.TrySetResult(turn);
        return Task.CompletedTask;
    }

    /// <summary>Waits until someone else (e.g. a backend) starts a reply in this session.</summary>
    public async Task<TurnStarted> WaitForTurnAsync()
    {
        var turn = await _turnStarted.Task;
        _turnStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        Expect(turn);
        await AttachAsync();
        return turn;
    }

    public async Task DetachAsync()
    {
        if (_gateway is not null) await _gateway.DetachAsync();
        else await _session!.DetachEdgeAsync(EdgeId);
    }

    public void Dispose()
    {
        _drafter?.Dispose();
        if (_observerReference is not null) _client!.DeleteObjectReference<IEdgeObserver>(_observerReference);
    }
}
