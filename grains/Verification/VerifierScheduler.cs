using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// What one device runs next, as plain data: the queue of steps waiting (bounded, one step per sequence, each with a
/// deadline), which caches to evict for a new sequence (<see cref="KvAdmission"/>, never one that is queued, in the
/// forward or mid-reply), and which steps form the next forward (<see cref="BatchingPolicy"/>). It computes nothing
/// and owns no tensors: the grain asks it for a plan, runs the plan on its <see cref="DeviceRunner"/>, and reports back.
/// Not thread-safe: the grain's turn-based scheduling serialises its callers. vLLM's scheduler is the model: the
/// scheduler decides, the runner only computes.
/// </summary>
public sealed class VerifierScheduler(VerifierScheduler.Limits limits, Func<DateTime> now)
{
    /// <summary>The limits of a device (from the silo's options).</summary>
    /// <param name="KvBudgetBytes">The hard KV budget: caches (of <c>bytesPerSequence</c> each) beyond it are refused.</param>
    /// <param name="FairShares">Fill a forward round robin across tenants (else in arrival order).</param>
    /// <param name="TenantWeights">Slots per round of a tenant under fair shares (absent: 1).</param>
    /// <param name="Trimming">How much of each tree a forward verifies (<see cref="TreeTrimmer"/>).</param>
    /// <param name="ForcedTreeNodes">Under <see cref="TrimMode.Forced"/>, the nodes every tree is cut to.</param>
    /// <param name="FairForwardStretch">
    /// Under fair shares, while tenants of unequal demand are active, a forward costs at most this many times one equal
    /// round (<see cref="FairRoundLimit"/>); 0: forwards are filled up to MaxBatch.
    /// </param>
    public sealed record Limits(int MaxBatch, int MaxQueuedSteps, TimeSpan QueueTimeout, BatchingPolicy Batching, long KvBudgetBytes,
        bool FairShares = true, IReadOnlyDictionary<string, int>? TenantWeights = null, TrimMode Trimming = TrimMode.Goodput, int ForcedTreeNodes = 0,
        double FairForwardStretch = 0);

    /// <summary>
    /// A step waiting for the device. <see cref="ServerDrafted"/>: its tree is drafted by the server on the device
    /// thread just before the forward. <see cref="FromEdge"/>: an edge's tree (what pipeline-aware batching schedules).
    /// </summary>
    public sealed record Step(string SessionId, TargetWork Work, TaskCompletionSource<Executed> Done, DateTime Enqueued, bool ServerDrafted, bool FromEdge)
    {
        /// <summary>Where the step's early verdict goes (an edge's tree on a verifier with an exit head); carried, not scheduled on.</summary>
        public Action<EarlyVerdict>? Early { get; init; }
        /// <summary>A server step decoded while the session's edge drafts (not one its edge waits for): its turnaround runs on.</summary>
        public bool WhileEdgeDrafts { get; init; }
    }

    /// <summary>
    /// A verdict with the device time of its forward, how long it waited for the device, the verifier's load when it
    /// ran (trees in the forward, steps still queued), which an adaptive edge sizes its next tree to, and how many nodes
    /// of its tree were verified (-1: all, or no tree).
    /// </summary>
    public readonly record struct Executed(VerdictMessage Verdict, double ForwardMs, double QueueMs, int BatchSize, int QueueLength, int VerifiedNodes = -1)
    {
        /// <summary>For a prefill: committed tokens it did not compute (held already, or copied from the prefix cache).</summary>
        public int ReusedTokens { get; init; }
        /// <summary>Whether the session would be served faster by plain decoding on the server (its hand-back follows; see HandBackPolicy).</summary>
        public bool ServerPays { get; init; }
    }

    /// <summary>
    /// The next forward: the steps it runs (in arrival order), the steps that waited past their deadline, and the rule
    /// that trims its trees (applied where the trees exist: server trees are drafted on the device thread).
    /// </summary>
    public sealed record ForwardPlan(IReadOnlyList<Step> Batch, IReadOnlyList<Step> Expired, TrimRule Trim);

    /// <summary>
    /// A sequence with a reply in progress but no step for this long is treated as abandoned (its session is gone
    /// without closing it) and may be evicted; live replies step far more often (an edge's lease is seconds).
    /// </summary>
    public static readonly TimeSpan AbandonedAfter = TimeSpan.FromSeconds(30);

    private readonly List<Step> _queue = new();
    private IReadOnlyList<Step> _running = Array.Empty<Step>();
    /// <summary>When each sequence was last used: the order (least recently used is evicted first) and the time.</summary>
    private readonly Dictionary<string, (long Order, DateTime At)> _lastUse = new();
    private long _order;
    /// <summary>Used only under <see cref="BatchingPolicy.PipelineAware"/>; fed either way (cheap), so switching needs no warm-up.</summary>
    private readonly PipelineBatchPlanner _planner = new();
    /// <summary>Goodput trimming: the device's cost line and each session's calibration, learnt from the forwards run.</summary>
    private readonly TreeTrimmer _trimmer = new() { Mode = limits.Trimming, ForcedNodes = limits.ForcedTreeNodes };
    /// <summary>What a forward may cost while a light tenant shares the device with a heavy one.</summary>
    private readonly FairRoundLimit _roundLimit = new(limits.FairShares ? limits.FairForwardStretch : 0, now);

    /// <summary>The step limit the last forward was built under (null: none), for logs and tests.</summary>
    public int? LastRoundLimit { get; private set; }

    public int Queued => _queue.Count;

    /// <summary>The sequence of <paramref name="sessionId"/> was used now.</summary>
    public void Touch(string sessionId) => _lastUse[sessionId] = (++_order, now());

    /// <summary>Forgets a session; returns its queued steps (taken off the queue), which its caller fails.</summary>
    public IReadOnlyList<Step> Forget(string sessionId)
    {
        var stale = _queue.Where(p => p.SessionId == sessionId).ToList();
        foreach (var step in stale) _queue.Remove(step);
        _lastUse.Remove(sessionId);
        _planner.Forget(sessionId);
        _trimmer.Forget(sessionId);
        _roundLimit.Forget(sessionId);
        return stale;
    }

    /// <summary>Queues a step of <paramref name="work"/>'s sequence; the step's task completes when its forward does.</summary>
    /// <exception cref="InvalidOperationException">The sequence already has a step queued or in the forward.</exception>
    /// <exception cref="VerifierBusyException">The queue is full.</exception>
    public Step Enqueue(string sessionId, TargetWork work, bool serverDrafted, bool fromEdge, Action<EarlyVerdict>? early = null, bool whileEdgeDrafts = false)
    {
        // One step at a time per sequence. A step of a sequence that was replaced meanwhile (re-opened) may still be
        // running: it works on the old, forgotten cache and does not hold the new one back.
        if (_queue.Any(p => p.SessionId == sessionId) || _running.Any(p => p.SessionId == sessionId && ReferenceEquals(p.Work.Sequence, work.Sequence)))
            throw new InvalidOperationException($"Session '{sessionId}' already has a step in progress.");
        if (_queue.Count >= limits.MaxQueuedSteps)
            throw new VerifierBusyException($"The server is at capacity ({_queue.Count} steps waiting); try again shortly.");
        var step = new Step(sessionId, work, new TaskCompletionSource<Executed>(TaskCreationOptions.RunContinuationsAsynchronously), now(), serverDrafted, fromEdge) { Early = early, WhileEdgeDrafts = whileEdgeDrafts };
        if (fromEdge) _planner.OnTreeQueued(sessionId, step.Enqueued);
        _roundLimit.Stepped(sessionId);
        _queue.Add(step);
        return step;
    }

    /// <summary>
    /// The caches to evict, least recently used first, so that one more of <paramref name="bytesPerSequence"/> fits:
    /// only those between replies (or abandoned mid-reply) and neither queued nor in the forward. Idle caches also make
    /// way for <paramref name="reserveBytes"/> of the budget (the prefix cache's share, which holds the same prefixes
    /// far more compactly); replies in progress never do: when only they are left, the reserve gives way instead.
    /// </summary>
    /// <exception cref="VerifierBusyException">Every cache holds a reply in progress, and one more does not fit.</exception>
    public IReadOnlyList<string> Victims(IEnumerable<(string SessionId, bool Finished)> residents, long bytesPerSequence, long reserveBytes = 0)
    {
        var busy = _queue.Concat(_running).Select(p => p.SessionId).ToHashSet();
        var at = now();
        var candidates = residents.Select(r => new KvAdmission.Resident(r.SessionId,
            !busy.Contains(r.SessionId) && (r.Finished || at - _lastUse.GetValueOrDefault(r.SessionId).At > AbandonedAfter),
            _lastUse.GetValueOrDefault(r.SessionId).Order)).ToList();
        if (reserveBytes > 0)
        {
            try { return KvAdmission.Victims(candidates, bytesPerSequence, limits.KvBudgetBytes - reserveBytes); }
            catch (VerifierBusyException) { }
        }
        return KvAdmission.Victims(candidates, bytesPerSequence, limits.KvBudgetBytes);
    }

    /// <summary>
    /// The next forward, or null when nothing waits: steps past their deadline leave the queue (expired), then up to
    /// MaxBatch of the rest. With fair shares, round robin across tenants (a tenant of weight w takes up to w steps per
    /// round, its own in arrival order; the tenant that led one forward goes last in the next), so a tenant
    /// with one step waiting gets into the next forward however many another has queued; else in arrival order.
    /// Work-conserving: a forward is filled whenever steps wait. Pipeline-aware: edge trees only up to the planner's
    /// group size (prefills and server steps always go), the rest wait for the next forward. While tenants of unequal
    /// demand are active, fewer than MaxBatch may go (<see cref="FairRoundLimit"/>). A non-empty batch is running until
    /// <see cref="ForwardEnded"/>.
    /// </summary>
    public ForwardPlan? NextForward()
    {
        if (_queue.Count == 0) return null;
        var deadline = now() - limits.QueueTimeout;
        var expired = _queue.Where(p => p.Enqueued < deadline).ToList();
        foreach (var step in expired) _queue.Remove(step);
        int max = limits.MaxBatch > 0 ? limits.MaxBatch : int.MaxValue;    // 0: no cap (the queue bound and KV admission hold)
        LastRoundLimit = _roundLimit.MaxSteps(Weight);
        if (LastRoundLimit is int round) max = Math.Min(max, round);
        int edgeLimit = limits.Batching == BatchingPolicy.PipelineAware ? _planner.EdgeTreeLimit(now(), max) : max;
        int edgeTrees = 0;
        bool Admits(Step item) => !item.FromEdge || edgeTrees < edgeLimit;
        var batch = new List<Step>();
        void Take(Step item)
        {
            batch.Add(item);
            if (item.FromEdge) edgeTrees++;
        }
        if (limits.FairShares)
        {
            // Tenants in order of their oldest waiting step, except that the last forward's first tenant goes last (the
            // lead rotates); each tenant's steps are a FIFO of their own.
            var tenants = _queue.GroupBy(p => TenantOf(p.SessionId)).Select(g => (Tenant: g.Key, Steps: g.ToList()))
                .OrderBy(t => t.Tenant == _lastLead ? 1 : 0).ToList();
            _lastLead = tenants.Count > 0 ? tenants[0].Tenant : null;
            for (bool took = true; took && batch.Count < max;)
            {
                took = false;
                foreach (var (tenant, steps) in tenants)
                {
                    for (int share = Weight(tenant); share > 0 && batch.Count < max && steps.Count > 0; share--)
                    {
                        // Edge trees beyond the planner's group wait; the tenant's other steps may still go.
                        var next = steps.FirstOrDefault(Admits);
                        if (next is null) break;
                        steps.Remove(next);
                        Take(next);
                        took = true;
                    }
                }
            }
        }
        else
        {
            foreach (var item in _queue)
            {
                if (batch.Count == max) break;
                if (Admits(item)) Take(item);
            }
        }
        foreach (var item in batch) _queue.Remove(item);
        _running = batch;
        // The gap since the last forward ended is the device's idle time before this one.
        _forwardStartedGapMs = _lastForwardEnd is { } end ? Math.Max(0, (now() - end).TotalMilliseconds) : 0;
        return new ForwardPlan(batch, expired, TrimFor(batch));
    }

    /// <summary>
    /// The trimming rule of a forward. An edge's step lasts the edge's turnaround (verdict out, draft, tree in) plus the
    /// forward; while the device idles part of the time anyway, its time is not what is scarce and nodes are priced
    /// against the whole step, as the user waiting sees it (<see cref="GoodputCut.Wait"/>): the whole turnaround while
    /// the device has time to spare, none when it is saturated (its own time is then the price), a share in between.
    /// Trimming prices the forward's nodes against the edges' typical turnaround (a median: a slow edge does not buy its
    /// neighbours' trees more nodes); whether a session is handed back is priced with its own edge's turnaround, so a
    /// slow or hostile edge moves its own session to the server and nobody else's.
    /// </summary>
    private TrimRule TrimFor(IReadOnlyList<Step> batch)
    {
        var trees = batch.Where(s => s.Work is VerifyWork || s.ServerDrafted).Select(s => s.SessionId);
        double turnaround = batch.Any(s => s.FromEdge) && !double.IsNaN(_planner.TurnaroundMs) ? _planner.TurnaroundMs : 0;
        var own = new Dictionary<string, double>();
        foreach (var step in batch)
            if (step.FromEdge && _planner.TurnaroundOf(step.SessionId) is var ms && !double.IsNaN(ms)) own[step.SessionId] = ms;
        return _trimmer.Rule(trees, turnaround, IdleShare) with { ActiveSequences = ActiveSequences, Turnarounds = own };
    }

    /// <summary>Sequences that stepped within <see cref="ActiveWindow"/> (what the server's own drafting is priced beside).</summary>
    public int ActiveSequences
    {
        get
        {
            var since = now() - ActiveWindow;
            return _lastUse.Values.Count(u => u.At >= since);
        }
    }

    /// <summary>Longer than an edge's turnaround at any round trip we serve, and than a hand-back's run.</summary>
    public static readonly TimeSpan ActiveWindow = TimeSpan.FromSeconds(1);

    /// <summary>The device's idle share of the recent past (between forwards over forwards and gaps, smoothed); 0 until known.</summary>
    public double IdleShare { get; private set; }
    private DateTime? _lastForwardEnd;
    private double _forwardStartedGapMs;

    /// <summary>The tenant that came first in the last fair forward: it goes last in the next one.</summary>
    private string? _lastLead;

    private int Weight(string tenant) => limits.TenantWeights?.GetValueOrDefault(tenant) is > 0 and var w ? w : 1;

    /// <summary>The tenant of a conversation id (<c>tenant/name</c>, validated where the id entered).</summary>
    public static string TenantOf(string sessionId) => sessionId[..Math.Max(0, sessionId.IndexOf('/'))];

    /// <summary>
    /// The running forward ended: <paramref name="ms"/> on the device in all (server drafting included; 0 items when it
    /// failed), of which <paramref name="forwardMs"/> the target forward of <paramref name="shape"/>.
    /// </summary>
    public void ForwardEnded(int items, double ms, ForwardShape shape = default, double forwardMs = 0)
    {
        _running = Array.Empty<Step>();
        if (items > 0) _planner.OnForward(items, ms);
        if (items > 0 && shape.Sequences > 0)
        {
            _trimmer.ObserveForward(shape, forwardMs);
            _roundLimit.Observe(shape, ms);     // the whole device job: what a step waiting behind it waits for
        }
        if (ms > 0)
        {
            // A gap of seconds is a quiet service, not a pipeline's idling: it counts as idle, but no more than a second.
            double gap = Math.Min(_forwardStartedGapMs, 1000), sample = gap / (gap + ms);
            IdleShare = _lastForwardEnd is null ? sample : IdleShare + IdleSmoothing * (sample - IdleShare);
            _lastForwardEnd = now();
        }
    }

    private const double IdleSmoothing = 0.1;

    /// <summary>A tree of <paramref name="sessionId"/>, as drafted (before trimming), got its verdict: the session's calibration learns from it.</summary>
    public void Verified(string sessionId, DraftMessage drafted, VerdictMessage verdict) => _trimmer.ObserveVerdict(sessionId, drafted, verdict);

    /// <summary>
    /// A step whose tree the server drafted (<paramref name="verifiedNodes"/> of it verified) got its verdict: the device
    /// learns what its own drafting brings (<see cref="ServerDraftLedger"/>).
    /// </summary>
    public void ServerDrafted(int verifiedNodes, VerdictMessage verdict) => _trimmer.ObserveServerDraft(verifiedNodes, verdict);

    /// <summary>The device drafted <paramref name="trees"/> server trees in one pass of <paramref name="ms"/>: it learns what its drafting costs.</summary>
    public void ServerDraftPass(int trees, double ms) => _trimmer.ObserveServerDraftPass(trees, ms);

    /// <summary>What the device's own drafting brings and costs, once known (<see cref="ServerDraftLedger"/>).</summary>
    public ServerDraftCost? ServerDraft => _trimmer.ServerDraft;

    /// <summary>An edge's step got its verdict: the planner learns the edge's turnaround.</summary>
    public void EdgeVerdict(string sessionId, bool finished) => _planner.OnVerdict(sessionId, now(), finished);

    /// <summary>A step the server decoded itself got its verdict: an edge waiting for a hand-back's run counts its turnaround from here (<see cref="PipelineBatchPlanner.OnServerStep"/>).</summary>
    public void ServerStepDone(string sessionId) => _planner.OnServerStep(sessionId, now());

    /// <summary>The edges' typical turnaround (a median over the sessions' own; NaN until measured).</summary>
    public double EdgeTurnaroundMs => _planner.TurnaroundMs;

    /// <summary>The turnaround the hand-back rule prices <paramref name="sessionId"/>'s edge loop with (NaN: no edge measured yet).</summary>
    public double TurnaroundOf(string sessionId) => _planner.TurnaroundOf(sessionId);
}
