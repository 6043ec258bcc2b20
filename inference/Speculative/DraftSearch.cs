namespace SpecEdge.Inference.Speculative;

/// <summary>A node of the draft search. Scores are log-domain; a child always scores below its parent.</summary>
internal sealed class SearchNode
{
    public required int Token { get; init; }
    /// <summary>Search index of the parent; -1 for the root.</summary>
    public required int Parent { get; init; }
    public required double Score { get; set; }
    /// <summary>
    /// The draft's log-probability of the whole path from the root (no decay): what the verifier prices the node by.
    /// Like the score it falls along every path.
    /// </summary>
    public double PathLogProb { get; init; }
    public required int Depth { get; set; }
    public bool Expanded { get; set; }
    /// <summary>Index of this node in the draft cache's pending tree; -1 while its KV is not computed.</summary>
    public int Pending { get; set; } = -1;
    /// <summary>The draft's most likely next tokens after this node and their log-probabilities (once computed).</summary>
    public (int Token, double LogProb)[]? Top { get; set; }
    /// <summary>Where the reply's grammar stands after this node's path, when the draft follows one (see <see cref="TreeDrafter.FollowGrammar"/>).</summary>
    public Constraints.GrammarState? Grammar { get; set; }
}

/// <summary>
/// Best-first (SpecExec-style) draft tree search. Each round takes the best unexpanded nodes still inside the budget,
/// computes the ones without KV in one draft forward, and adds every child candidate that beats the current
/// <c>budget</c>-th best score. Unexpanded nodes of earlier rounds keep competing. The forward itself is supplied by
/// the caller, which owns the KV cache.
/// </summary>
internal sealed class DraftSearch
{
    public List<SearchNode> Nodes { get; } = new();

    /// <summary>Pending index of the node the root hangs off (-1: the committed prefix).</summary>
    public int RootParentPending { get; set; } = -1;

    public DraftSearch(int rootToken) =>
        Nodes.Add(new SearchNode { Token = rootToken, Parent = -1, Score = 0, Depth = 0 });

    /// <param name="rounds">Rounds of expansion.</param>
    /// <param name="depthLimit">Nodes at this depth are not expanded.</param>
    /// <param name="compute">Computes KV and top tokens for the given nodes (one forward); parents are computed first.</param>
    public void Run(int rounds, int budget, int maxBeams, int depthLimit, double decay, Action<IReadOnlyList<SearchNode>> compute)
    {
        for (int round = 0; round < rounds; round++)
        {
            if (BeginRound(budget, maxBeams, depthLimit) is not { } expand) break;
            var missing = Missing(expand);
            if (missing.Count > 0) compute(missing);
            if (!EndRound(expand, budget, decay)) break;
        }
    }

    /// <summary>
    /// A round's first half: the best unexpanded nodes still inside the budget, to be expanded (null: nothing is left to
    /// expand, the search is over). Their top tokens must be known before <see cref="EndRound"/>: those of
    /// <see cref="Missing"/> are computed in between, by one forward of this search or of many searches at once.
    /// </summary>
    public List<SearchNode>? BeginRound(int budget, int maxBeams, int depthLimit)
    {
        double cutoff = Cutoff(budget, Nodes.Skip(1).Select(n => n.Score));
        var expand = Nodes.Where(n => !n.Expanded && n.Depth < depthLimit && (n.Parent < 0 || n.Score >= cutoff))
            .OrderByDescending(n => n.Score).Take(maxBeams).ToList();
        return expand.Count == 0 ? null : expand;
    }

    /// <summary>The nodes of a round without top tokens yet: what its forward computes.</summary>
    public static List<SearchNode> Missing(IEnumerable<SearchNode> expand) => expand.Where(n => n.Top is null).ToList();

    /// <summary>
    /// A round's second half: expands <paramref name="expand"/> (their top tokens known), keeping every child candidate
    /// that makes the best <paramref name="budget"/>; false when none did (the search is over).
    /// </summary>
    public bool EndRound(List<SearchNode> expand, int budget, double decay)
    {
        double logDecay = Math.Log(decay);
        var candidates = new List<(int Parent, int Token, double Score, double PathLogProb)>();
        foreach (var node in expand)
        {
            node.Expanded = true;
            int index = Nodes.IndexOf(node);
            foreach (var (token, logProb) in node.Top!)
                candidates.Add((index, token, node.Score + logDecay + logProb, node.PathLogProb + logProb));
        }
        // Keep the candidates that make the top `budget` of existing nodes and candidates together.
        double bar = Cutoff(budget, Nodes.Skip(1).Select(n => n.Score).Concat(candidates.Select(c => c.Score)));
        int added = 0;
        foreach (var c in candidates.Where(c => c.Score >= bar).OrderByDescending(c => c.Score).Take(budget))
        {
            var parent = Nodes[c.Parent];
            Nodes.Add(new SearchNode { Token = c.Token, Parent = c.Parent, Score = c.Score, PathLogProb = c.PathLogProb, Depth = parent.Depth + 1 });
            added++;
        }
        return added > 0;
    }

    private static double Cutoff(int budget, IEnumerable<double> scores)
    {
        var sorted = scores.OrderByDescending(s => s).ToList();
        return sorted.Count < budget ? double.NegativeInfinity : sorted[budget - 1];
    }

    /// <summary>
    /// The root and the best <paramref name="budget"/> other nodes, best first: by path probability, falling. Because
    /// scores and path probabilities fall along every path, the kept nodes include their ancestors, and every prefix of
    /// the list is itself a tree (a parent always comes before its children; on a tie the earlier-found parent wins),
    /// which lets a verifier cut a tree short without reading it twice.
    /// </summary>
    public int[] Select(int budget)
    {
        var best = Enumerable.Range(1, Nodes.Count - 1)
            .OrderByDescending(i => Nodes[i].Score).ThenBy(i => i).Take(budget).ToHashSet();
        foreach (int i in best.ToList())
            for (int p = Nodes[i].Parent; p > 0; p = Nodes[p].Parent)
                if (!best.Contains(p)) throw new InvalidOperationException($"Draft tree is not connected: node {i} kept without its ancestor {p}.");
        return new[] { 0 }.Concat(best.OrderByDescending(i => Nodes[i].PathLogProb).ThenBy(i => i)).ToArray();
    }
}
