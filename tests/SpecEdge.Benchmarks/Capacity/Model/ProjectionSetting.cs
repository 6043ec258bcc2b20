namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The assumptions of a roofline projection, each stated: devices, models, network, workload shape, acceptance and the
/// per-forward launch overhead (not a published figure: eager-mode kernel launches, about 10 kernels of ~5 µs per layer).
/// </summary>
public sealed record ProjectionSetting(HardwareSpec Server, HardwareSpec Edge, ModelShape Target, ModelShape Draft, double RttSeconds,
    AcceptanceModel Acceptance, int PromptTokens, int ReplyTokens, int TreeBudget, int TreeDepth, int MaxBatch, double LaunchSecondsPerLayer,
    double ProactiveHitRate, TrimCurve? Trim = null, int HandBackSteps = 0, double HandBackMaxSeconds = 0.5, double ReplySpread = 0, bool DecodeWhileEdgeDrafts = false)
{
    /// <summary>The batch limit of a mode: <see cref="MaxBatch"/> when set, else as many sequences as KV memory holds (no artificial cap).</summary>
    public int BatchLimit(DraftPlacement placement, bool serverDraft = false) => MaxBatch > 0 ? MaxBatch : Math.Max(1, KvCapacitySessions(placement, serverDraft));

    public RooflineCost TargetOnServer => new(Target, Server, LaunchSecondsPerLayer * Target.Layers);
    public RooflineCost DraftOnServer => new(Draft, Server, LaunchSecondsPerLayer * Draft.Layers);
    public RooflineCost DraftOnEdge => new(Draft, Edge, LaunchSecondsPerLayer * Draft.Layers);

    /// <summary>Mean context a step attends to: the prompt plus half the reply.</summary>
    public int MeanContext => PromptTokens + ReplyTokens / 2;

    /// <summary>One tree on one edge: <see cref="TreeDepth"/> sequential draft forwards of up to <see cref="TreeBudget"/> beams.</summary>
    public double EdgeDraftSeconds => DraftOnEdge.DraftTreeSeconds(1, TreeDepth, TreeBudget, MeanContext);

    /// <summary>
    /// The trees of a batch of n, drafted on the server GPU: the same rounds batched over the n sequences, or (as
    /// VerifierBatchGrain drafts for server-decoded sessions today) one tree after another.
    /// </summary>
    public double ServerDraftSeconds(int n, bool oneByOne = false) => oneByOne
        ? n * DraftOnServer.DraftTreeSeconds(1, TreeDepth, TreeBudget, MeanContext)
        : DraftOnServer.DraftTreeSeconds(n, TreeDepth, TreeBudget, MeanContext);

    /// <summary>
    /// Sessions whose KV cache (a whole conversation, and the draft's too when the server drafts) fits beside the
    /// weights. <paramref name="serverDraft"/>: the server holds a draft model besides (edge mode whose hand-backs draft).
    /// </summary>
    public int KvCapacitySessions(DraftPlacement placement, bool serverDraft = false)
    {
        serverDraft |= placement == DraftPlacement.Server;
        double weights = Target.Parameters * (double)Target.BytesPerValue + (serverDraft ? Draft.Parameters * (double)Draft.BytesPerValue : 0);
        // The longest reply's cache, when replies differ in length.
        double perSession = (PromptTokens + Math.Ceiling(ReplyTokens * (1 + ReplySpread))) * (double)(Target.KvBytesPerToken + (serverDraft ? Draft.KvBytesPerToken : 0));
        return (int)Math.Max(0, Math.Floor((Server.MemoryBytes - weights) / perSession));
    }

    /// <summary>The simulation of <paramref name="mode"/> with <paramref name="sessions"/> sessions.</summary>
    public SimulationConfig Config(ProjectionMode mode, int sessions, int replies, int seed) =>
        Config(mode.Placement, mode.Proactive, sessions, replies, seed, mode.OneByOne, mode.Trim, mode.HandBack, mode.HandBackDrafts);

    public SimulationConfig Config(DraftPlacement placement, bool proactive, int sessions, int replies, int seed, bool draftsOneByOne = false, bool trim = false,
        bool handBack = false, bool handBackDrafts = false) => new()
    {
        Trim = trim ? Trim ?? throw new InvalidOperationException("A trimmed mode needs the setting's trim curve.") : null,
        HandBackSteps = handBack ? HandBackSteps : 0, HandBackMaxSeconds = HandBackMaxSeconds, DecodeWhileEdgeDrafts = handBack && DecodeWhileEdgeDrafts,
        HandBackDrafts = handBack && handBackDrafts,
        ProactiveHitRate = proactive ? ProactiveHitRate : 0,
        Placement = placement, Sessions = sessions, Verify = TargetOnServer, Acceptance = Acceptance,
        EdgeDraft = new[] { DurationDistribution.Constant(EdgeDraftSeconds) },
        ServerDraft = (n, _) => ServerDraftSeconds(n, draftsOneByOne),
        RoundTrip = DurationDistribution.Constant(RttSeconds), TreeTokens = TreeBudget + 1, MaxBatch = BatchLimit(placement, handBack && handBackDrafts),
        Policy = BatchPolicy.WorkConserving, PromptTokens = PromptTokens, ReplyTokens = ReplyTokens, ReplySpread = ReplySpread, RepliesPerSession = replies,
        IncludePrefill = true, Seed = seed,
    };
}
