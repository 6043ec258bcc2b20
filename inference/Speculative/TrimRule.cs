namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Which nodes of each tree one forward verifies: an immutable snapshot of the <see cref="TreeTrimmer"/>'s knowledge
/// (the cost line, each sequence's calibration), applied on the device thread once every tree of the forward exists
/// (server trees are drafted there). The goal is goodput: expected committed tokens (each tree's accepted nodes, plus
/// one bonus token per sequence) per predicted millisecond of the forward. A node's expected acceptance is its path
/// probability calibrated for its sequence (<see cref="AcceptanceCalibration"/>), never more than its parent's. Each tree keeps a prefix of its nodes
/// (nodes come best first, so a prefix is a tree and its best nodes) as long as its own nodes pay (<see cref="GoodputCut"/>).
/// A tree cut to its root is a plain decoding step: when no node pays, speculation costs what plain decoding does.
/// <para>
/// <see cref="WaitMs"/> is what each step of these sequences costs outside this device and that the device cannot use:
/// with nothing else queued, the device would idle for the edges' round trip and drafting anyway, so a step's time is
/// that wait plus the forward, and nodes are priced against it (at a 15 ms round trip nearly every node pays, as a
/// user waiting on the network wants). Under load (0) the device's time is the whole price.
/// </para>
/// </summary>
public sealed record TrimRule(ForwardCostModel.Line? Cost, IReadOnlyDictionary<string, double[]?> Calibrations, int? ForcedNodes)
{
    /// <summary>Trees are verified whole.</summary>
    public static readonly TrimRule None = new(null, new Dictionary<string, double[]?>(), null);

    /// <summary>A measurement: trees cut to <paramref name="nodes"/> to learn what a forward of that size costs.</summary>
    public static TrimRule Probing(int nodes) => new(null, new Dictionary<string, double[]?>(), nodes) { Probe = true };

    /// <summary>The cut is a measurement, not a budget: verdicts report the trees as verified whole.</summary>
    public bool Probe { get; init; }

    /// <summary>
    /// The edges' whole turnaround (verdict out, drafting, tree in; 0 when no edge's tree is in the forward), and the
    /// device's idle share (1: all of its time to spare). The hand-back rule prices a session's edge loop and device time
    /// with both (<see cref="GoodputCut.ServerDecodingPays"/>, <see cref="GoodputCut.DevicePrice"/>); trimming prices
    /// nodes against <see cref="WaitMs"/>.
    /// </summary>
    public double TurnaroundMs { get; init; }

    /// <inheritdoc cref="TurnaroundMs"/>
    public double IdleShare { get; init; } = 1;

    /// <summary>
    /// Each edge's own turnaround, by sequence key: the hand-back rule prices a session's edge loop with its own edge's
    /// (a slow or hostile edge hands its own session to the server, not its neighbours'). A tree without one takes
    /// <see cref="TurnaroundMs"/>, which trimming prices every tree's nodes with.
    /// </summary>
    public IReadOnlyDictionary<string, double>? Turnarounds { get; init; }

    /// <summary>The turnaround as trimming prices it: in full while the device has time to spare, none when saturated (<see cref="GoodputCut.Wait"/>).</summary>
    public double WaitMs => GoodputCut.Wait(TurnaroundMs, IdleShare);

    /// <summary>What the server's own drafting brings and costs on this device (null: no server draft, or not known yet).</summary>
    public ServerDraftCost? ServerDraft { get; init; }

    /// <summary>
    /// Sequences that stepped on this device lately, in this forward or not. A device serving one has nobody to give
    /// its time to (<see cref="GoodputCut.DevicePrice"/>). The server's own drafting is priced as if it drafted for each
    /// of them: its drafting is cheap beside one sequence and dearer beside many (far dearer where it drafts one tree
    /// after another), and a forward that happens to hold only a hand-back's step says little of the load.
    /// </summary>
    public int ActiveSequences { get; init; }

    /// <summary>
    /// Whether the server drafts the trees of the <paramref name="drafted"/> server-decoded steps among
    /// <paramref name="items"/> (the forward as queued, those steps plain): under goodput trimming, when its drafting
    /// raises the forward's goodput (<see cref="GoodputCut.ServerDraftingPays"/>), priced with the forward's trees at
    /// their root; otherwise (trees whole, forced cuts, a probe, a cost not known yet) always, as before trimming, so
    /// the cost of drafting is learnt. A step the server does not draft is a plain step. The forward's own rate counts
    /// at least <see cref="ActiveSequences"/> sequences.
    /// </summary>
    public bool DraftsServerTrees(IReadOnlyList<TargetWork> items, int drafted)
    {
        if (drafted <= 0) return false;
        if (Cost is not { } line || ForcedNodes is not null || ServerDraft is not { } sd) return true;
        var bare = BareShape(items);
        double expected = Math.Max(items.Count(w => w is VerifyWork or DecodeWork), ActiveSequences);
        return GoodputCut.ServerDraftingPays(drafted, expected, line.Predict(bare), sd, bare.Masked ? 0 : line.MaskedMs, line.PerTokenMs);
    }

    /// <summary>
    /// The forward's work with each tree trimmed, and per item the nodes of its tree that are verified (-1: not a tree,
    /// or verified whole because nothing was cut). Trees without path probabilities (older edges) go whole.
    /// </summary>
    public (TargetWork[] Works, int[] Verified) Apply(IReadOnlyList<(string Key, TargetWork Work)> items)
    {
        var (works, verified, _) = ApplyWithHandBacks(items);
        return (works, verified);
    }

    /// <summary>
    /// As <see cref="Apply"/>, and per item whether its session would be served faster by plain decoding on the server:
    /// under goodput trimming <see cref="GoodputCut.ServerDecodingPays"/> (which may hold for a tree kept whole, when the
    /// wait outweighs all its nodes), under forced cuts a tree that is its root after the cut, never for a probe, for trees without path
    /// probabilities or for a step that is not a tree. What a session's hand-back follows (<see cref="HandBackPolicy"/>).
    /// </summary>
    public (TargetWork[] Works, int[] Verified, bool[] ServerPays) ApplyWithHandBacks(IReadOnlyList<(string Key, TargetWork Work)> items)
    {
        var works = items.Select(i => i.Work).ToArray();
        var verified = Enumerable.Repeat(-1, items.Count).ToArray();
        var serverPays = new bool[items.Count];
        DraftMessage?[]? cut = ForcedNodes is int forced ? Forced(works, forced) : Cost is { } line ? Goodput(items, line, serverPays) : null;
        if (cut is null) return (works, verified, serverPays);
        for (int i = 0; i < works.Length; i++)
        {
            if (cut[i] is not { } tree || works[i] is not VerifyWork v) continue;
            // Under forced cuts a tree that is its root alone, cut so or sent so (moved past server tokens that left it),
            // brought a plain step through the edge's loop; and the edge learns the budget from any tree, cut or not.
            if (ForcedNodes is not null && !Probe) (serverPays[i], verified[i]) = (tree.Tokens.Length == 1, tree.Tokens.Length - 1);
            if (tree.Tokens.Length == v.Tree.Tokens.Length) continue;
            works[i] = v with { Tree = tree };
            verified[i] = Probe ? -1 : tree.Tokens.Length - 1;
        }
        return (works, verified, serverPays);
    }

    /// <summary>
    /// The forward with every priceable tree cut to its root (a plain step of one token), by the rule the cost line was
    /// fitted with; trees without path probabilities go whole, their nodes a fixed cost.
    /// </summary>
    private static ForwardShape BareShape(IEnumerable<TargetWork> works) =>
        ForwardShape.Of(works.Select(w => w is VerifyWork { Tree.Confidence: not null } v ? new DecodeWork(v.Sequence) : w));

    /// <summary>The first <paramref name="nodes"/> nodes of each tree (its best, when nodes come best first).</summary>
    private static DraftMessage?[] Forced(TargetWork[] works, int nodes) =>
        works.Select(w => w is VerifyWork v ? Keep(v.Tree, FirstNodes(v.Tree, nodes)) : null).ToArray();

    /// <summary>
    /// Each tree reordered by its calibrated chance of acceptance (a node's: its parent's times its conditional chance,
    /// <see cref="AcceptanceCalibration"/>), so that a prefix is its best nodes, then cut to the goodput-optimal prefix
    /// (<see cref="GoodputCut"/>) priced by the cost line.
    /// </summary>
    private DraftMessage?[] Goodput(IReadOnlyList<(string Key, TargetWork Work)> items, ForwardCostModel.Line line, bool[] serverPays)
    {
        var result = new DraftMessage?[items.Count];
        var bare = BareShape(items.Select(i => i.Work));
        // One bonus token per sequence that steps (a tree's root, or a plain step).
        double expected = items.Count(i => i.Work is VerifyWork or DecodeWork);
        // Per tree with path probabilities: the tree best first, and the expected acceptance of its first j nodes.
        var gains = new List<(int Item, DraftMessage Ordered, double[] Cumulative)>();
        for (int i = 0; i < items.Count; i++)
        {
            if (items[i].Work is not VerifyWork { Tree.Confidence: { } confidence } v) continue;
            var rates = Calibrations.GetValueOrDefault(items[i].Key);
            var (claimed, rank) = AcceptanceCalibration.Describe(v.Tree, confidence);
            var p = new double[v.Tree.Tokens.Length];
            p[0] = 1;
            for (int n = 1; n < p.Length; n++) p[n] = p[v.Tree.Parents[n]] * AcceptanceCalibration.Conditional(rank[n], claimed[n], rates);
            // Falling chance; a child never beats its parent, and on a tie the earlier node (a parent) goes first.
            var order = Enumerable.Range(0, p.Length).OrderByDescending(n => n == 0 ? double.PositiveInfinity : p[n]).ThenBy(n => n).ToArray();
            var cumulative = new double[p.Length];
            for (int j = 1; j < p.Length; j++) cumulative[j] = cumulative[j - 1] + p[order[j]];
            gains.Add((i, Reorder(v.Tree, order), cumulative));
        }
        // Trees of m nodes pad every input of the forward to m + 1 rows, if that is longer than what it holds already.
        var cumulatives = gains.Select(g => g.Cumulative).ToList();
        double baseCost = line.Predict(bare), maskCost = bare.Masked ? 0 : line.MaskedMs;
        Func<int, double>? longestCost = line.PerPaddedRowMs > 0 ? m => line.PerPaddedRowMs * bare.Sequences * Math.Max(0, m + 1 - bare.Longest) : null;
        var cut = GoodputCut.Best(cumulatives, expected, baseCost, maskCost, line.PerTokenMs, WaitMs, longestCost);
        // The device's price of a millisecond: the cut forward's goodput, while the device has no time to spare.
        int nodes = cut.Sum();
        double forwardMs = baseCost + (nodes > 0 ? maskCost : 0) + line.PerTokenMs * nodes + (longestCost?.Invoke(cut.DefaultIfEmpty(0).Max()) ?? 0);
        double devicePrice = GoodputCut.DevicePrice(expected + cut.Select((j, t) => cumulatives[t][j]).Sum(), forwardMs, IdleShare,
            (int)Math.Max(expected, ActiveSequences));
        var turnarounds = gains.Select(g => Turnarounds?.TryGetValue(items[g.Item].Key, out var ms) == true ? ms : TurnaroundMs).ToArray();
        var pays = GoodputCut.ServerDecodingPays(cumulatives, cut, baseCost, maskCost, line.PerTokenMs, TurnaroundMs, longestCost, ServerDraft,
            Math.Max(expected, ActiveSequences), perSequenceMs: line.PerSequenceMs + line.PerTokenMs, devicePrice: devicePrice, turnarounds: turnarounds);
        for (int g = 0; g < gains.Count; g++)
        {
            result[gains[g].Item] = Keep(gains[g].Ordered, FirstNodes(gains[g].Ordered, cut[g]));
            serverPays[gains[g].Item] = pays[g];
        }
        return result;
    }

    /// <summary>The tree with its nodes in <paramref name="order"/> (the root first, every parent before its children).</summary>
    private static DraftMessage Reorder(DraftMessage tree, int[] order)
    {
        var position = new int[order.Length];
        for (int j = 0; j < order.Length; j++) position[order[j]] = j;
        return tree with
        {
            Tokens = order.Select(n => tree.Tokens[n]).ToArray(),
            Parents = order.Select(n => n == 0 ? -1 : position[tree.Parents[n]]).ToArray(),
            Confidence = tree.Confidence is { } c ? order.Select(n => c[n]).ToArray() : null,
        };
    }

    /// <summary>The root and the first <paramref name="nodes"/> nodes, less any whose parent is cut (a tree not in best-first order).</summary>
    private static bool[] FirstNodes(DraftMessage tree, int nodes)
    {
        var keep = new bool[tree.Tokens.Length];
        keep[0] = true;
        for (int i = 1; i <= Math.Min(nodes, keep.Length - 1); i++) keep[i] = keep[tree.Parents[i]];
        return keep;
    }

    /// <summary>
    /// The subtree of the kept nodes (which include the root and every kept node's parent), in the original order, with
    /// parents and path probabilities renumbered to match.
    /// </summary>
    public static DraftMessage Keep(DraftMessage tree, bool[] keep)
    {
        if (keep.Length != tree.Tokens.Length || !keep[0]) throw new ArgumentException("A trimmed tree keeps its root.", nameof(keep));
        var index = new int[tree.Tokens.Length];
        var tokens = new List<int>();
        var parents = new List<int>();
        var confidence = tree.Confidence is null ? null : new List<byte>();
        for (int i = 0; i < tree.Tokens.Length; i++)
        {
            index[i] = -1;
            if (!keep[i]) continue;
            int parent = i == 0 ? -1 : index[tree.Parents[i]];
            if (i > 0 && parent < 0) throw new ArgumentException($"Node {i} is kept without its parent {tree.Parents[i]}.", nameof(keep));
            index[i] = tokens.Count;
            tokens.Add(tree.Tokens[i]);
            parents.Add(parent);
            confidence?.Add(tree.Confidence![i]);
        }
        return tree with { Tokens = tokens.ToArray(), Parents = parents.ToArray(), Confidence = confidence?.ToArray() };
    }
}
