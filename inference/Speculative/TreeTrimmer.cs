namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Goodput trimming: how much of each tree a forward verifies. It learns the device's cost line
/// (<see cref="ForwardCostModel"/>) and each sequence's calibration (<see cref="AcceptanceCalibration"/>), and hands out
/// a <see cref="TrimRule"/> per forward, which picks the nodes. Not thread-safe: its owner (the verifier's scheduler, or
/// a single-threaded decoder) serialises it; the rule it hands out is an immutable snapshot for the device thread.
/// Trimming is lossless by construction: the verifier's acceptance is the target's own decision at every position, so
/// a smaller tree can only commit fewer tokens per step, never other ones.
/// </summary>
public sealed class TreeTrimmer
{
    private readonly ForwardCostModel _cost = new();
    private readonly Dictionary<string, AcceptanceCalibration> _calibration = new();

    /// <summary>Verify whole trees (trimming off), or this many nodes of each (tests: forced to every size).</summary>
    public TrimMode Mode { get; init; } = TrimMode.Goodput;
    public int ForcedNodes { get; init; }

    /// <summary>The cost line, once known.</summary>
    public ForwardCostModel.Line? CostLine => _cost.Current;

    /// <summary>
    /// The rule for the next forward, whose tree-carrying items belong to <paramref name="keys"/>, priced with the edges'
    /// <paramref name="turnaroundMs"/> and the device's <paramref name="idleShare"/> (<see cref="TrimRule.TurnaroundMs"/>).
    /// Until the cost line is known trees go whole, and if the first
    /// <see cref="ForwardCostModel.MinForwards"/> forwards did not teach it (trees of one size, one sequence: a token's
    /// price cannot be told from a forward's), forwards probe: trees cut to <see cref="ProbeNodes"/> in turn. Under load
    /// nearly every forward carries a tree, so now and then one plain forward keeps the price of the mask known. Probes
    /// are lossless too, and are not a budget an edge should draft to.
    /// </summary>
    public TrimRule Rule(IEnumerable<string> keys, double turnaroundMs = 0, double idleShare = 1) => Mode switch
    {
        TrimMode.Off => TrimRule.None,
        TrimMode.Forced => new TrimRule(null, new Dictionary<string, double[]?>(), ForcedNodes),
        _ => _cost.Current is not { } line
            ? _cost.Samples < ForwardCostModel.MinForwards ? TrimRule.None
                : ProbeNodes[_probes++ % ProbeNodes.Length] is int probe ? TrimRule.Probing(probe) : TrimRule.None
            : _cost.SincePlain >= PlainProbeEvery ? TrimRule.Probing(0)
            : new TrimRule(line, keys.Distinct().ToDictionary(k => k, k => _calibration.TryGetValue(k, out var c) ? c.Rates : null), null)
            {
                TurnaroundMs = turnaroundMs, IdleShare = idleShare, ServerDraft = ++_sinceServerDraft > ServerDraftProbeEvery ? null : _serverDraft.Current,
            },
    };

    private readonly ServerDraftLedger _serverDraft = new();

    /// <summary>
    /// Forwards after the last server-drafted step after which the next forward's server steps are drafted whatever the
    /// ledger says (the rule is handed out without it): the figures of a device where drafting stopped paying stay
    /// fresh, so that drafting resumes when load falls or the first drafts' cost misled.
    /// </summary>
    public const int ServerDraftProbeEvery = 64;
    private int _sinceServerDraft;

    /// <summary>What the server's own drafting brings and costs here, once known (<see cref="ServerDraftLedger"/>).</summary>
    public ServerDraftCost? ServerDraft => _serverDraft.Current;

    /// <summary>The server drafted the trees of <paramref name="trees"/> of a forward's steps in one pass of <paramref name="ms"/> (or one after another in all that time).</summary>
    public void ObserveServerDraftPass(int trees, double ms)
    {
        _sinceServerDraft = 0;
        _serverDraft.ObservePass(trees, ms);
    }

    /// <summary>
    /// A step whose tree the server drafted ended: <paramref name="verifiedNodes"/> of its nodes were verified, and
    /// <paramref name="verdict"/> committed its tokens (one a stop condition cut short is skipped).
    /// </summary>
    public void ObserveServerDraft(int verifiedNodes, VerdictMessage verdict)
    {
        if (verdict.Finished || verdict.AcceptedTokens.Length == 0) return;
        _serverDraft.ObserveStep(verifiedNodes, verdict.AcceptedTokens.Length);
    }

    /// <summary>Forwards with trees after which one plain forward is run to refresh the plain part of the cost line.</summary>
    public const int PlainProbeEvery = 64;

    /// <summary>The tree sizes (nodes besides the root) of the probing forwards, in turn; null: whole.</summary>
    private static readonly int?[] ProbeNodes = { null, 8, 2, 0 };
    private int _probes;

    /// <summary>A forward of <paramref name="shape"/> ran for <paramref name="ms"/> on the device.</summary>
    public void ObserveForward(ForwardShape shape, double ms) => _cost.Observe(shape, ms);

    /// <summary>
    /// A tree of <paramref name="key"/>'s sequence, as drafted (before trimming), got <paramref name="verdict"/>: the
    /// calibration learns, rank by rank, how often a node whose parent was accepted was accepted itself
    /// (<see cref="AcceptanceCalibration"/>). The verdict's tokens are the target's own choices, so they settle the fate of nodes that were trimmed
    /// away too: a tree cut to its root still shows whether its first nodes would have been accepted, and a session
    /// trimmed to plain decoding keeps learning (else an under-confident draft, once cut, would stay cut). Only nodes
    /// below the end of the known tokens are unsettled and left out. A verdict a stop condition cut short is skipped.
    /// </summary>
    public void ObserveVerdict(string key, DraftMessage drafted, VerdictMessage verdict)
    {
        if (drafted.Confidence is not { } confidence || verdict.Finished || drafted.Tokens.Length < 2) return;
        var (accepted, deepest) = Walk(drafted, verdict.AcceptedTokens);
        // When every token matched a node, the children of the deepest one wait on a token nobody has seen yet.
        bool openEnded = accepted == verdict.AcceptedTokens.Length;
        var onPath = new HashSet<int> { 0 };
        for (int n = deepest; n > 0; n = drafted.Parents[n]) onPath.Add(n);
        var (claimed, rank) = AcceptanceCalibration.Describe(drafted, confidence);
        // Settled with its parent accepted: a child of a node on the path, unless it waits on a token not yet seen.
        var settled = Enumerable.Range(1, confidence.Length - 1)
            .Where(i => onPath.Contains(drafted.Parents[i]) && !(openEnded && drafted.Parents[i] == deepest))
            .Select(i => (rank[i], claimed[i], onPath.Contains(i)));
        if (!_calibration.TryGetValue(key, out var calibration)) _calibration[key] = calibration = new AcceptanceCalibration();
        calibration.Observe(settled);
    }

    /// <summary>How many tree nodes below the root the accepted tokens walk through (the bonus too, when the tree has it).</summary>
    public static int AcceptedNodes(DraftMessage tree, IReadOnlyList<int> accepted) => Walk(tree, accepted).Nodes;

    private static (int Nodes, int Deepest) Walk(DraftMessage tree, IReadOnlyList<int> accepted)
    {
        int at = 0, matched = 0;
        for (; matched < accepted.Count; matched++)
        {
            int next = -1;
            for (int i = at + 1; i < tree.Tokens.Length && next < 0; i++)
                if (tree.Parents[i] == at && tree.Tokens[i] == accepted[matched]) next = i;
            if (next < 0) break;
            at = next;
        }
        return (matched, at);
    }

    public void Forget(string key) => _calibration.Remove(key);
}

/// <summary>Whether and how trees are trimmed.</summary>
public enum TrimMode
{
    /// <summary>Each forward verifies the nodes that raise its expected tokens per millisecond.</summary>
    Goodput,
    /// <summary>Trees are verified whole.</summary>
    Off,
    /// <summary>Every tree is cut to <see cref="TreeTrimmer.ForcedNodes"/> nodes (tests of losslessness at every size).</summary>
    Forced,
}
