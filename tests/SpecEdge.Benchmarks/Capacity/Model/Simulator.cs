using SpecEdge.Grains.Verification;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Discrete-event simulation of speculative decoding serving (the idea of DSD-Sim): sessions loop draft -> uplink ->
/// verifier queue -> batched verify -> downlink -> next draft; the verifier batches pending trees under a
/// <see cref="BatchPolicy"/>, its forward costs what the <see cref="IVerifyCost"/> says, and each step emits tokens drawn
/// from the <see cref="AcceptanceModel"/>. Deterministic for a seed. Nothing sleeps: time is a number.
/// </summary>
public sealed class Simulator
{
    private sealed class Session(int id)
    {
        public int Id { get; } = id;
        public int Remaining, Context, RepliesDone;
        public double ReplyStart, StepStart, StepRtt, TreeSent, EarlyArrived = double.NaN;
        public bool InReply, FirstTokenSeen;
        /// <summary>Which bet of the last step won: 0 none, 1 the proactive one, 2 the early verdict's.</summary>
        public int BetWon;
        /// <summary>The verifier's hand-back rule for this session (null: off), and the run in progress: server steps left, tokens so far.</summary>
        public SpecEdge.Inference.Speculative.HandBackPolicy? HandBack;
        public int ServerStepsLeft, HeldTokens;
        public double RunStart;
        /// <summary>
        /// After a run (DecodeWhileEdgeDrafts): the server decodes while the edge drafts; <see cref="Since"/> tokens so far,
        /// which the edge's tree is moved past. <see cref="TreeWaiting"/>: the tree came while such a step was in the forward.
        /// <see cref="Reply"/> counts replies, so a tree drafted for a reply the server finished meanwhile is dropped.
        /// </summary>
        public bool EdgeDrafting, TreeWaiting;
        public int Since, Reply;
    }

    /// <summary>
    /// A step waiting for the device: a prefill, an edge's tree, or (<paramref name="ServerStep"/>) a plain step of a
    /// hand-back, which <paramref name="WhileEdgeDrafts"/> decodes while the edge drafts its next tree.
    /// </summary>
    private readonly record struct Queued(Session Session, bool Prefill, bool ServerStep = false, bool WhileEdgeDrafts = false);

    private readonly SimulationConfig _c;
    private readonly Random _random;
    private readonly PriorityQueue<Action<double>, (double Time, long Order)> _events = new();
    private readonly CorePool _cores;
    private readonly List<Queued> _queue = new();
    private readonly Session[] _sessions;
    private readonly List<double> _itl = new(), _ttft = new();
    /// <summary>
    /// Tokens as the server commits them, which is what server tokens/s counts. A hand-back's tokens reach the edge only with
    /// the run's verdict, up to HandBackMaxSeconds later; counted there, the window's end cut off the runs in progress.
    /// </summary>
    private readonly List<(double Time, int Tokens)> _committed = new();
    private long _order, _tokens, _batches, _batchedItems, _treeSteps;
    private bool _verifierBusy, _forwardRunning;
    private double _serverBusy, _edgeBusy, _now, _firstSessionDone = double.NaN;
    // Issue 13's idle fraction: time with an edge step outstanding (tree sent, verdict not yet back), and the part of it with no forward running.
    private int _outstanding;
    private double _outstandingSeconds, _idleSeconds;
    /// <summary>The verifier grain's own planner, driven with simulated time (BatchPolicy.PipelineAware only).</summary>
    private readonly PipelineBatchPlanner? _planner;
    private static readonly DateTime Epoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private Simulator(SimulationConfig config)
    {
        config.Validate();
        _c = config;
        _random = new Random(config.Seed);
        _cores = new CorePool(config.SharedCores);
        _sessions = Enumerable.Range(0, config.Sessions).Select(i => new Session(i)
        {
            HandBack = config.HandBackSteps > 0 && config.Placement == DraftPlacement.Edge ? new SpecEdge.Inference.Speculative.HandBackPolicy(config.HandBackSteps) : null,
        }).ToArray();
        if (config.Policy == BatchPolicy.PipelineAware) _planner = new PipelineBatchPlanner();
    }

    private static DateTime At(double seconds) => Epoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));

    public static SimulationResult Run(SimulationConfig config) => new Simulator(config).Execute();

    private SimulationResult Execute()
    {
        foreach (var s in _sessions) StartReply(s, 0);
        while (_events.TryDequeue(out var action, out var key))
        {
            if (_outstanding > 0)
            {
                _outstandingSeconds += key.Time - _now;
                if (!_forwardRunning) _idleSeconds += key.Time - _now;
            }
            _now = key.Time;
            action(_now);
        }
        if (_sessions.Any(s => s.RepliesDone < _c.RepliesPerSession))
            throw new InvalidOperationException("The simulation stalled with replies unfinished (a batch policy waiting for work that cannot come).");
        double steadyEnd = double.IsNaN(_firstSessionDone) ? _now : _firstSessionDone;
        long steadyTokens = _committed.Where(e => e.Time <= steadyEnd).Sum(e => (long)e.Tokens);
        return new SimulationResult(_c.Sessions, _tokens, _now, steadyTokens / steadyEnd, _serverBusy, _edgeBusy,
            _itl.Count == 0 ? double.NaN : _itl.Average() * 1000, Percentile.Of(_itl, 50) * 1000, Percentile.Of(_itl, 95) * 1000,
            Percentile.Of(_ttft, 50) * 1000, _batches == 0 ? 0 : (double)_batchedItems / _batches,
            _treeSteps == 0 ? 0 : (double)_tokens / _treeSteps)
        {
            IdleFraction = _outstandingSeconds > 0 ? _idleSeconds / _outstandingSeconds : double.NaN,
        };
    }

    private void Schedule(double time, Action<double> action) => _events.Enqueue(action, (time, _order++));

    private void StartReply(Session s, double now)
    {
        s.InReply = true;
        s.Reply++;
        s.EdgeDrafting = s.TreeWaiting = false;
        s.Since = 0;
        s.FirstTokenSeen = false;
        s.HandBack?.Reset();
        s.Remaining = ReplyLength(s);
        s.Context = _c.PromptTokens;
        s.ReplyStart = now;
        if (!_c.IncludePrefill) { BeginStep(s, now); return; }
        // The prompt travels to the server (edge mode: half a round trip) and is prefilled in a batch like any step.
        s.StepRtt = _c.Placement == DraftPlacement.Edge ? _c.RoundTrip.Sample(_random) : 0;
        Schedule(now + s.StepRtt / 2, t => Enqueue(new Queued(s, Prefill: true), t));
    }

    /// <summary>This reply's length: the same in every mode (its own generator, from the seed, the session and the reply).</summary>
    private int ReplyLength(Session s)
    {
        if (_c.ReplySpread == 0) return _c.ReplyTokens;
        double u = new Random(unchecked(_c.Seed * 1_000_003 + s.Id * 7_919 + s.RepliesDone)).NextDouble() * 2 - 1;
        return Math.Max(1, (int)Math.Round(_c.ReplyTokens * (1 + _c.ReplySpread * u)));
    }

    private void BeginStep(Session s, double now)
    {
        s.StepStart = now;
        if (_c.Placement != DraftPlacement.Edge) { Enqueue(new Queued(s, false), now); return; }
        var tree = _c.EdgeDraft[_c.EdgeDraft.Count == 1 ? 0 : s.Id];
        double draft = tree.Sample(_random);
        bool early = _c.EarlyExit is not null && !double.IsNaN(s.EarlyArrived);
        if ((_c.ProactiveHitRate > 0 || early) && s.FirstTokenSeen)
        {
            // The pre-draft ran while the last tree was out, then drafting ahead from the early verdict (from its arrival,
            // if before the verdict's); only what outlasted the verdict's arrival delays this step.
            double round = _c.PreDraftFraction * tree.Sample(_random) / _c.BetRounds, busyUntil = s.TreeSent;
            int proactiveRounds = 0, earlyRounds = 0;
            if (_c.ProactiveHitRate > 0) (busyUntil, proactiveRounds) = Bet(s.TreeSent, round, now);
            if (early && Math.Max(busyUntil, s.EarlyArrived) < now) (busyUntil, earlyRounds) = Bet(Math.Max(busyUntil, s.EarlyArrived), round, now);
            int won = s.BetWon == 1 ? proactiveRounds : s.BetWon == 2 ? earlyRounds : 0;
            // A won bet drafted part of the next tree already: all its rounds leave HitDraftFraction of a tree to draft.
            draft = draft * (1 - (1 - _c.HitDraftFraction) * won / _c.BetRounds) + Math.Max(0, busyUntil - now);
        }
        s.EarlyArrived = double.NaN;
        _edgeBusy += draft;
        s.StepRtt = _c.RoundTrip.Sample(_random);
        _cores.Acquire(now, start => Schedule(start + draft, drafted =>
        {
            // Hand the tree in before freeing the core, so a verifier waiting for that core sees it at the same instant.
            s.TreeSent = drafted;
            _outstanding++;
            int reply = s.Reply;
            Schedule(drafted + s.StepRtt / 2, t => TreeArrives(s, reply, t));
            _cores.Release(drafted);
        }));
    }

    /// <summary>
    /// A bet drafted from <paramref name="start"/>, round by round: all its rounds, or (edges that stop at the verdict)
    /// until the round in progress when the verdict arrives at <paramref name="verdict"/>. Returns when it ended and its rounds.
    /// </summary>
    private (double End, int Rounds) Bet(double start, double round, double verdict)
    {
        int rounds = 0;
        double at = start;
        while (rounds < _c.BetRounds && (!_c.BetsStopAtVerdict || at < verdict)) { at += round; rounds++; }
        _edgeBusy += at - start;
        return (at, rounds);
    }

    /// <summary>
    /// An edge's tree reaches the server. While the server decodes for the edge, the tree takes the place of its queued
    /// step, or waits for the one in the forward. A tree for a reply the server finished meanwhile is refused, and the
    /// edge learns of the tokens it had not seen with the refusal.
    /// </summary>
    private void TreeArrives(Session s, int reply, double now)
    {
        if (s.Reply != reply) return;
        if (s.Remaining == 0)
        {
            int since = s.Since;
            s.Since = 0;
            Schedule(now + s.StepRtt / 2, t => Deliver(s, since, t));
            return;
        }
        if (s.EdgeDrafting)
        {
            s.EdgeDrafting = false;
            int queued = _queue.FindIndex(q => q.Session == s && q.WhileEdgeDrafts);
            if (queued < 0) { s.TreeWaiting = true; return; }   // its step is in the forward: the tree follows it
            _queue.RemoveAt(queued);
        }
        Enqueue(new Queued(s, false), now);
    }

    private void Enqueue(Queued item, double now)
    {
        if (!item.Prefill && _c.Placement == DraftPlacement.Edge) _planner?.OnTreeQueued(SessionKey(item.Session), At(now));
        _queue.Add(item);
        TryStartBatch(now);
    }

    private void TryStartBatch(double now)
    {
        if (_verifierBusy || _queue.Count == 0) return;
        if (_c.Policy == BatchPolicy.Lockstep)
        {
            // Every session inside a reply will queue a step: wait for all of them (or a full batch).
            int expected = Math.Min(_c.MaxBatch, _sessions.Count(s => s.InReply));
            if (_queue.Count < expected) return;
        }
        _verifierBusy = true;
        // Form the batch after every other event of this instant: trees that arrive at the same moment share the forward.
        Schedule(now, t => _cores.Acquire(t, granted => Schedule(granted, start =>
        {
            var batch = NextBatch(start);
            _forwardRunning = true;
            var (nodes, handBackPays, serverDrafts) = Cut(batch);
            var items = batch.Select(q => q.Prefill
                ? new VerifyItem(_c.PromptTokens, 0)
                : new VerifyItem(_c.Placement == DraftPlacement.None || (ServerDrafted(q) && !serverDrafts) ? 1 : q.ServerStep ? _c.TreeTokens : nodes + 1, q.Session.Context)).ToList();
            int trees = batch.Count(q => !q.Prefill && !q.ServerStep);
            double seconds = _c.Verify.Seconds(items);
            // A hand-back's server-drafted steps: the silo drafts their trees (together, or one after another) before the forward.
            int handBackSteps = batch.Count(q => q.ServerStep);
            if (serverDrafts && handBackSteps > 0) seconds += _c.ServerDraft!(handBackSteps, _random);
            // Early exits: the split costs its share, and each tree's early verdict leaves part-way through the forward.
            if (_c.EarlyExit is { } exit && _c.Placement == DraftPlacement.Edge && trees > 0)
            {
                seconds *= 1 + exit.ForwardOverhead;
                foreach (var q in batch.Where(q => !q.Prefill && !q.ServerStep)) q.Session.EarlyArrived = start + exit.SplitAt * seconds + q.Session.StepRtt / 2;
            }
            if (_c.Placement == DraftPlacement.Server && trees > 0 && serverDrafts) seconds += _c.ServerDraft!(trees, _random);
            _serverBusy += seconds;
            _batches++;
            _batchedItems += batch.Count;
            Schedule(start + seconds, done =>
            {
                _forwardRunning = false;
                _planner?.OnForward(batch.Count, seconds * 1000);
                _cores.Release(done);
                CompleteBatch(batch, done, nodes, handBackPays, serverDrafts);
            });
        })));
    }

    /// <summary>
    /// The batch is whatever is queued when the device (core) is ours, up to the max batch; under pipeline-aware batching
    /// edge trees only up to the planner's group size (prefills always go), as VerifierBatchGrain.NextBatch does.
    /// </summary>
    private List<Queued> NextBatch(double now)
    {
        int edgeLimit = _planner is null || _c.Placement != DraftPlacement.Edge ? _c.MaxBatch : _planner.EdgeTreeLimit(At(now), _c.MaxBatch);
        var batch = new List<Queued>();
        int trees = 0;
        foreach (var q in _queue)
        {
            if (batch.Count == _c.MaxBatch) break;
            if (!q.Prefill && trees == edgeLimit) continue;
            if (!q.Prefill) trees++;
            batch.Add(q);
        }
        foreach (var q in batch) _queue.Remove(q);
        return batch;
    }

    private static string SessionKey(Session s) => s.Id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// Nodes each tree of the forward keeps: all without trimming; with it, what the verifier's rule (GoodputCut) picks on
    /// this device's cost, linearised between the forward with bare roots and with whole trees (the line the verifier
    /// would learn there), with the edges' round trip and drafting times the device's idle share as the wait (as
    /// VerifierScheduler prices it). The trees are alike, so one k serves all. Whether the server takes the session back
    /// (a hand-back) is priced as the verifier prices it too: the edge's whole turnaround, and each step's own device time
    /// (a plain sequence's, the kept nodes') at the device's price (GoodputCut.DevicePrice).
    /// <para>
    /// On a silo with a draft of its own (<see cref="SimulationConfig.HandBackDrafts"/>), the hand-back rule also
    /// weighs the server's own speculation, and the forward's hand-back steps are server-drafted when that drafting pays
    /// at its load (<see cref="SpecEdge.Inference.Speculative.GoodputCut.ServerDraftingPays"/>), priced as the verifier
    /// prices it: the draft's mean tokens per step, its drafting time (a pass's fixed part and a tree's, the line through
    /// the passes of one tree and of as many trees as sequences step, which a silo's ledger learns from the passes it
    /// sees) and whole trees' nodes.
    /// </para>
    /// </summary>
    private (int Nodes, bool ServerPays, bool ServerDrafts) Cut(List<Queued> batch)
    {
        int budget = _c.TreeTokens - 1;
        if (_c.Trim is not { } trim || _c.Placement == DraftPlacement.None) return (budget, false, _c.Placement == DraftPlacement.Server);
        var trees = batch.Where(q => !q.Prefill && !q.ServerStep).ToList();
        int serverSteps = batch.Count(ServerDrafted);
        if (trees.Count == 0 && serverSteps == 0) return (budget, false, false);
        List<VerifyItem> Items(int tokens) => batch.Select(q => q.Prefill ? new VerifyItem(_c.PromptTokens, 0)
            : new VerifyItem(q.ServerStep ? 1 : tokens, q.Session.Context)).ToList();
        double bare = _c.Verify.Seconds(Items(1));
        // The forward with every step's tree whole, hand-back steps' too (as when the server drafts them).
        double AllWhole() => _c.Verify.Seconds(batch.Select(q => q.Prefill ? new VerifyItem(_c.PromptTokens, 0) : new VerifyItem(_c.TreeTokens, q.Session.Context)).ToList());
        // A node's price: from the trees of this forward, or (only hand-back steps in it) from as many whole trees.
        double whole = trees.Count > 0 ? _c.Verify.Seconds(Items(_c.TreeTokens)) : AllWhole();
        double price = budget == 0 ? 0 : Math.Max(0, (whole - bare) / ((trees.Count > 0 ? trees.Count : serverSteps) * budget));
        // As the verifier does, the server's drafting is priced beside every sequence in a reply (TrimRule.ActiveSequences).
        int stepping = Math.Max(batch.Count(q => !q.Prefill), _sessions.Count(s => s.InReply));
        // What a server-drafted step brings and costs: the draft's mean tokens, its drafting, whole trees' nodes.
        var serverDraft = _c.Placement == DraftPlacement.Server || _c.HandBackDrafts
            ? DraftLine(n => _c.ServerDraft!(n, _random), Math.Max(2, stepping), budget) : (SpecEdge.Inference.Speculative.ServerDraftCost?)null;
        // As the verifier does: the edges' turnaround, in full while the device idles a quarter of the time or more (a
        // forward that carries an edge's tree); the server's own drafting is priced without it.
        double idle = _now > 0 ? Math.Clamp(1 - _serverBusy / _now, 0, 1) : 1;
        double turnaround = _c.RoundTrip.Mean + (_c.EdgeDraft.Count > 0 ? _c.EdgeDraft[0].Mean : 0);
        double wait = _c.Placement == DraftPlacement.Edge && trees.Count > 0 ? SpecEdge.Inference.Speculative.GoodputCut.Wait(turnaround, idle) : 0;
        // Drafting a forward's hand-back steps puts their whole trees in it beside the edges' trees: its nodes are priced in
        // that forward, not in one where the hand-back steps are plain (below a GPU's compute knee, the second is far cheaper).
        double draftPrice = price;
        if (trees.Count > 0 && serverSteps > 0 && _c.Placement == DraftPlacement.Edge && budget > 0)
            draftPrice = Math.Max(0, (AllWhole() - bare) / ((trees.Count + serverSteps) * budget));
        bool drafts = serverDraft is { } sd && serverSteps > 0
            && SpecEdge.Inference.Speculative.GoodputCut.ServerDraftingPays(serverSteps, stepping, bare, sd, 0, draftPrice);
        if (trees.Count == 0) return (budget, false, drafts);
        if (_c.Placement == DraftPlacement.Server && !drafts) return (0, false, false);
        double extra = _c.Acceptance.Mean - 1;
        var cumulative = Enumerable.Repeat(trim.Share.Select(s => s * extra).ToArray(), trees.Count).ToList();
        var cut = SpecEdge.Inference.Speculative.GoodputCut.Best(cumulative, trees.Count, bare, 0, price, wait);
        if (_c.Placement == DraftPlacement.Server) return (cut.Max(), false, true);
        // Whether the server's own decoding beats the edges' loop (GoodputCut.ServerDecodingPays): a hand-back follows.
        // Priced as the verifier prices it: the edge's whole turnaround, and each step's own device time at the device's price.
        var plainItems = Items(1);
        plainItems.Add(new VerifyItem(1, _c.PromptTokens + _c.ReplyTokens / 2));
        double perSequence = Math.Max(0, _c.Verify.Seconds(plainItems) - bare);
        double forward = bare + price * cut.Sum();
        double devicePrice = SpecEdge.Inference.Speculative.GoodputCut.DevicePrice(batch.Count(q => !q.Prefill) + cut.Select(j => cumulative[0][j]).Sum(), forward, idle, stepping);
        var pays = SpecEdge.Inference.Speculative.GoodputCut.ServerDecodingPays(cumulative, cut, bare, 0, price, turnaround, serverDraft: serverDraft,
            baseExpected: stepping, perSequenceMs: perSequence, devicePrice: devicePrice);
        return (cut.Max(), pays[0], drafts);   // trees alike
    }

    /// <summary>
    /// What the server's drafting brings and costs, as a ledger would learn it: the line through a pass of one tree and a
    /// pass of <paramref name="trees"/> (seconds, in the cut's unit), the draft's mean tokens, whole trees' nodes.
    /// </summary>
    private SpecEdge.Inference.Speculative.ServerDraftCost DraftLine(Func<int, double> drafting, int trees, int nodes)
    {
        double one = drafting(1), many = drafting(trees);
        double perTree = Math.Max(0, (many - one) / (trees - 1));
        return new SpecEdge.Inference.Speculative.ServerDraftCost(_c.Acceptance.Mean, perTree, nodes, DraftFixedMs: Math.Max(0, one - perTree));
    }

    /// <summary>A step whose tree the server drafts: server-only SD's, or a hand-back's.</summary>
    private bool ServerDrafted(Queued q) => !q.Prefill && (q.ServerStep || _c.Placement == DraftPlacement.Server);

    private void CompleteBatch(List<Queued> batch, double now, int nodes, bool handBackPays, bool serverDrafts)
    {
        _verifierBusy = false;
        foreach (var (s, prefill, serverStep, whileEdgeDrafts) in batch)
        {
            double back = now + (_c.Placement == DraftPlacement.Edge ? s.StepRtt / 2 : 0);
            if (prefill) { Schedule(back, t => BeginStep(s, t)); continue; }
            if (whileEdgeDrafts)
            {
                s.Since += CommitServerStep(s, serverDrafts, now);
                if (s.Remaining == 0)
                {
                    // The reply ended while the edge drafted: the edge's tree finds it over (TreeArrives), now if it came already.
                    s.EdgeDrafting = false;
                    if (s.TreeWaiting)
                    {
                        s.TreeWaiting = false;
                        TreeArrives(s, s.Reply, now);
                    }
                }
                else if (s.TreeWaiting) { s.TreeWaiting = false; _queue.Add(new Queued(s, false)); }
                else if (s.EdgeDrafting) _queue.Add(new Queued(s, false, ServerStep: true, WhileEdgeDrafts: true));
                continue;
            }
            if (serverStep)
            {
                // The run goes on at once, or its tokens go to the edge with the verdict.
                s.HeldTokens += CommitServerStep(s, serverDrafts, now);
                s.ServerStepsLeft--;
                if (s.ServerStepsLeft > 0 && s.Remaining > 0 && now - s.RunStart < _c.HandBackMaxSeconds) _queue.Add(new Queued(s, false, ServerStep: true));
                else
                {
                    int held = s.HeldTokens;
                    Schedule(back, t => Deliver(s, held, t));
                    if (_c.DecodeWhileEdgeDrafts && s.Remaining > 0)
                    {
                        s.EdgeDrafting = true;
                        s.Since = 0;
                        _queue.Add(new Queued(s, false, ServerStep: true, WhileEdgeDrafts: true));
                    }
                }
                continue;
            }
            int drawn = _c.Placement == DraftPlacement.None || (_c.Placement == DraftPlacement.Server && !serverDrafts) ? 1 : _c.Acceptance.Sample(_random);
            // A trimmed tree keeps each accepted draft token with the share its best nodes keep.
            if (_c.Trim is { } trim && _c.Placement != DraftPlacement.None && nodes < _c.TreeTokens - 1)
                drawn = 1 + Enumerable.Range(0, drawn - 1).Count(_ => _random.NextDouble() < trim.Share[nodes]);
            // A tree moved past the tokens the server committed while it was drafted: its path covered them, or it is a plain step.
            int since = s.Since;
            if (since > 0) drawn = drawn - 1 >= since ? drawn - since : 1;
            s.Since = 0;
            int k = Math.Min(s.Remaining, drawn);
            // Which bet wins: the proactive one as often as it does; the early verdict's on the rest of its hits.
            double early = _c.EarlyExit is { } exit && _c.Placement == DraftPlacement.Edge
                ? (_c.ProactiveHitRate > 0 ? exit.HitRateWithProactive : exit.HitRate) : 0;
            if (_c.ProactiveHitRate > 0 || early > 0)
            {
                double draw = _random.NextDouble();
                s.BetWon = draw < _c.ProactiveHitRate ? 1 : draw < Math.Max(early, _c.ProactiveHitRate) ? 2 : 0;
            }
            s.Remaining -= k;
            s.Context += k;
            _committed.Add((now, k));
            _treeSteps++;
            if (_c.Placement == DraftPlacement.Edge) _planner?.OnVerdict(SessionKey(s), At(now), finished: s.Remaining == 0);
            // The session's own rule on the cut it got (as TreeIntake applies it): a run of plain server steps before the verdict leaves.
            int run = s.HandBack is { } handBack && s.Remaining > 0 ? handBack.StepsAfter(handBackPays) : 0;
            if (run > 0)
            {
                s.ServerStepsLeft = run;
                s.HeldTokens = since + k;
                s.RunStart = now;
                _queue.Add(new Queued(s, false, ServerStep: true));
                continue;
            }
            Schedule(back, t => Deliver(s, since + k, t));
        }
        TryStartBatch(now);
    }

    /// <summary>One plain token (or a server-drafted step's) committed on the server; returns how many.</summary>
    private int CommitServerStep(Session s, bool serverDrafts, double now)
    {
        int got = serverDrafts ? Math.Min(s.Remaining, _c.Acceptance.Sample(_random)) : 1;
        s.Remaining -= got;
        s.Context += got;
        _committed.Add((now, got));
        _treeSteps++;
        return got;
    }

    private void Deliver(Session s, int tokens, double now)
    {
        if (_c.Placement == DraftPlacement.Edge) _outstanding--;
        _tokens += tokens;
        bool first = !s.FirstTokenSeen;
        if (first) { s.FirstTokenSeen = true; _ttft.Add(now - s.ReplyStart); }
        // With a prefill modelled, a reply's first step is part of its time to first token, not of its ITL.
        if (!first || !_c.IncludePrefill)
        {
            double step = now - s.StepStart;
            for (int i = 0; i < tokens; i++) _itl.Add(step / tokens);
        }
        if (s.Remaining > 0) { BeginStep(s, now); return; }

        s.InReply = false;
        s.RepliesDone++;
        if (s.RepliesDone == _c.RepliesPerSession && double.IsNaN(_firstSessionDone)) _firstSessionDone = now;
        if (_c.GroupBarrier)
        {
            // The next group of prompts starts when every session of this group has finished.
            if (_sessions.All(x => !x.InReply))
                foreach (var x in _sessions.Where(x => x.RepliesDone < _c.RepliesPerSession)) StartReply(x, now);
        }
        else if (s.RepliesDone < _c.RepliesPerSession) StartReply(s, now);
        // A lockstep verifier waits for every session in a reply: one fewer may complete the batch it waits for.
        TryStartBatch(now);
    }
}
