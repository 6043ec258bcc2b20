namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// One deployment to simulate: who drafts (<see cref="DraftPlacement"/>: nobody = target-only AR, the server, or the
/// edges), how many sessions, each edge's draft time, the network round trip, how many tokens a step emits, and what a
/// verify forward costs. Every session decodes <see cref="RepliesPerSession"/> replies of <see cref="ReplyTokens"/> tokens.
/// </summary>
public sealed record SimulationConfig
{
    public required DraftPlacement Placement { get; init; }
    public required int Sessions { get; init; }
    public required IVerifyCost Verify { get; init; }
    /// <summary>Tokens per step of SD modes (AR always emits one).</summary>
    public required AcceptanceModel Acceptance { get; init; }
    /// <summary>Draft time of one tree on each edge: one entry per session, or a single entry every edge shares.</summary>
    public IReadOnlyList<DurationDistribution> EdgeDraft { get; init; } = Array.Empty<DurationDistribution>();
    /// <summary>Server-only SD: seconds the server device spends drafting the trees of a batch of n sequences, before its verify forward.</summary>
    public Func<int, Random, double>? ServerDraft { get; init; }
    /// <summary>Edge to server and back, per step (half each way); edge-assisted mode only: server-side modes stream to the user, off the step loop.</summary>
    public DurationDistribution RoundTrip { get; init; } = DurationDistribution.Constant(0);
    /// <summary>Tokens a verified tree carries (budget + 1 root).</summary>
    public int TreeTokens { get; init; } = 33;
    public int MaxBatch { get; init; } = 8;
    public BatchPolicy Policy { get; init; } = BatchPolicy.WorkConserving;
    public int PromptTokens { get; init; } = 32;
    public int ReplyTokens { get; init; } = 64;
    /// <summary>
    /// Each reply's length is <see cref="ReplyTokens"/> times 1 ± up to this (uniform, the same for every mode: drawn from
    /// the seed, the session and the reply alone). 0: every reply alike, so sessions that step alike stay in lockstep and
    /// prefill their next prompts together, which real arrivals do not.
    /// </summary>
    public double ReplySpread { get; init; }
    public int RepliesPerSession { get; init; } = 4;
    /// <summary>Whether each reply starts with a prefill of its prompt on the verifier (the spec benchmark times none).</summary>
    public bool IncludePrefill { get; init; } = true;
    /// <summary>All sessions start their next reply together once all have finished (the spec benchmark's groups of prompts).</summary>
    public bool GroupBarrier { get; init; }
    /// <summary>
    /// Everything on one machine: edges' drafts and the verifier's forwards each need one of this many cores (FIFO);
    /// null = every edge has its own device and the verifier its own (the deployment SpecEdge is for).
    /// </summary>
    public int? SharedCores { get; init; }
    /// <summary>
    /// Proactive edge drafting (edge mode): the probability that the edge's bet on a step's outcome wins. While a tree is
    /// out, the edge pre-drafts <see cref="PreDraftFraction"/> of a tree's draft time (edge seconds, hidden unless it
    /// outlasts the wait); after a win only <see cref="HitDraftFraction"/> of a tree is left to draft. 0 = off.
    /// </summary>
    public double ProactiveHitRate { get; init; }
    /// <summary>Share of a tree's draft time that pre-drafting takes (proactive depth 3 of 4 rounds).</summary>
    public double PreDraftFraction { get; init; } = 0.75;
    /// <summary>Share of a tree's draft time left after a won bet (4 - 3 = 1 of 4 rounds).</summary>
    public double HitDraftFraction { get; init; } = 0.25;
    /// <summary>Draft rounds of a bet (the proactive depth): pre-drafting is PreDraftFraction of a tree, in this many rounds.</summary>
    public int BetRounds { get; init; } = 3;
    /// <summary>
    /// Edges stop drafting a bet after the round in progress when the verdict arrives (edges since 2026-12-07); false: a
    /// bet is drafted to the end (the edges before, and the projections made then).
    /// </summary>
    public bool BetsStopAtVerdict { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>Early exits (edge mode): early verdicts the edges draft ahead on (null: none).</summary>
    public EarlyExitModel? EarlyExit { get; init; }
    /// <summary>Goodput trimming of SD trees by the verifier's own rule (null: trees verified whole).</summary>
    public TrimCurve? Trim { get; init; }
    /// <summary>
    /// Hand-backs (edge mode with trimming): after a tree cut to its root, the session decodes plain steps on the server,
    /// as many as the sessions' own <see cref="SpecEdge.Inference.Speculative.HandBackPolicy"/> says, before its verdict
    /// goes back to the edge. 0: off.
    /// </summary>
    public int HandBackSteps { get; init; }
    /// <summary>A hand-back's run ends after this long, whatever its steps (the silo's SpecEdge:HandBackMaxMilliseconds).</summary>
    public double HandBackMaxSeconds { get; init; } = 0.5;
    /// <summary>
    /// After a hand-back run the server goes on decoding while the edge drafts its next tree, which is then moved onto the
    /// session's step (SpecEdge:DecodeWhileEdgeDrafts): the tree keeps its value past the tokens committed meanwhile only
    /// when its accepted path covered them (it would have accepted at least that many draft tokens), else it is a plain step.
    /// </summary>
    public bool DecodeWhileEdgeDrafts { get; init; }
    /// <summary>
    /// Edge mode with hand-backs, on a silo with a draft model of its own (drafting costs <see cref="ServerDraft"/>): its
    /// hand-back steps are server-drafted whenever that drafting pays at the forward's load
    /// (GoodputCut.ServerDraftingPays), and the hand-back rule weighs the server's own speculation against the edge's
    /// loop (GoodputCut.ServerDecodingPays), as the silo's verifier does.
    /// </summary>
    public bool HandBackDrafts { get; init; }

    public void Validate()
    {
        if (Sessions < 1) throw new ArgumentOutOfRangeException(nameof(Sessions), Sessions, "At least one session.");
        if (MaxBatch < 1) throw new ArgumentOutOfRangeException(nameof(MaxBatch), MaxBatch, "Max batch must be at least 1.");
        if (ReplyTokens < 1 || RepliesPerSession < 1) throw new ArgumentException("Each session needs at least one reply of at least one token.");
        if (!(ReplySpread >= 0 && ReplySpread < 1)) throw new ArgumentOutOfRangeException(nameof(ReplySpread), ReplySpread, "The reply spread is a share in [0, 1).");
        if (TreeTokens < 1 || PromptTokens < 1) throw new ArgumentException("Trees and prompts have at least one token.");
        if (SharedCores is < 1) throw new ArgumentOutOfRangeException(nameof(SharedCores), SharedCores, "Shared cores must be at least 1.");
        if (Placement == DraftPlacement.Edge && EdgeDraft.Count != 1 && EdgeDraft.Count != Sessions)
            throw new ArgumentException($"Edge-assisted mode needs one draft-time distribution per session ({Sessions}) or one for all, not {EdgeDraft.Count}.");
        if (ProactiveHitRate is < 0 or > 1 || PreDraftFraction < 0 || HitDraftFraction is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(ProactiveHitRate), "Proactive hit rate and draft fractions are shares in [0, 1] (pre-draft >= 0).");
        EarlyExit?.Validate();
        if (Trim is not null && Trim.Share.Length != TreeTokens)
            throw new ArgumentException($"The trim curve covers {Trim.Share.Length - 1} nodes, the trees {TreeTokens - 1}.");
        if (HandBackSteps < 0) throw new ArgumentOutOfRangeException(nameof(HandBackSteps), HandBackSteps, "Hand-backs are 0 (off) or more steps.");
        if ((Placement == DraftPlacement.Server || HandBackDrafts) && ServerDraft is null)
            throw new ArgumentException("Server-only SD and server-drafted hand-backs need the server's draft cost (ServerDraft).");
    }
}
