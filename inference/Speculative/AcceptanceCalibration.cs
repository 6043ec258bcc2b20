namespace SpecEdge.Inference.Speculative;

/// <summary>
/// How likely one sequence's draft nodes are to be accepted, learnt from what the target itself decided. A node is
/// accepted when its parent is and the target picks its token there, so a tree's acceptance is a product of those
/// conditional chances along each path. They are learnt by the node's rank among its siblings (the draft's likeliest
/// child, second, third, the rest: <see cref="Ranks"/>), over the sequence's recent nodes, starting from what the draft
/// claims (the path probability of the node over its parent's) with the weight of <see cref="PriorNodes"/> nodes.
/// <para>
/// By rank, not by the probability claimed, because what decides acceptance is whether the draft and the target agree
/// on a choice, which the draft's probabilities tell badly: a small model with a flat distribution over a large
/// vocabulary claims 20 % for a likeliest child the target always picks (a draft equal to the target, greedy), and an
/// edge may lie and claim certainty everywhere. Either way what the target decided sets the price: the first is lifted
/// to certainty, the liar's nodes sink to what they earn. Ranks come from the claims, so a lying edge can only reorder
/// its own siblings.
/// </para>
/// </summary>
public sealed class AcceptanceCalibration
{
    /// <summary>Recent settled nodes kept per sequence: the fit follows a change of edge or text within a few dozen steps.</summary>
    public const int Window = 256;
    /// <summary>Sibling ranks told apart: the likeliest child, the second, the third, and all the rest together.</summary>
    public const int Ranks = 4;
    /// <summary>The draft's own claim counts as this many nodes in each rank.</summary>
    public const double PriorNodes = 2;

    private readonly Queue<(int Rank, double Claimed, bool Accepted)> _nodes = new();
    private double[]? _rates;

    /// <summary>Per sibling rank, the chance a node is accepted once its parent is.</summary>
    public double[] Rates => _rates ??= Fit();

    /// <summary>
    /// A node's chance of acceptance given its parent's: the learnt rate of its rank, or (for a sequence not seen yet)
    /// what the draft claims.
    /// </summary>
    public static double Conditional(int rank, double claimed, IReadOnlyList<double>? rates) =>
        rates is null ? claimed : rates[Math.Min(rank, Ranks - 1)];

    /// <summary>
    /// Nodes whose fate a verdict settled, each with its parent accepted: its sibling rank, the conditional probability
    /// the draft claimed, and whether the target accepted it.
    /// </summary>
    public void Observe(IEnumerable<(int Rank, double Claimed, bool Accepted)> nodes)
    {
        foreach (var node in nodes)
        {
            _nodes.Enqueue((Math.Min(node.Rank, Ranks - 1), Math.Clamp(node.Claimed, 0, 1), node.Accepted));
            if (_nodes.Count > Window) _nodes.Dequeue();
        }
        _rates = null;
    }

    private double[] Fit()
    {
        var rates = new double[Ranks];
        for (int r = 0; r < Ranks; r++)
        {
            var seen = _nodes.Where(n => n.Rank == r).ToList();
            // No node of this rank yet: the draft's claim is the prior's mean, taken from the likelier ranks' claims.
            double claim = seen.Count > 0 ? seen.Average(n => n.Claimed) : r == 0 ? 0.5 : rates[r - 1] / 2;
            rates[r] = (seen.Count(n => n.Accepted) + PriorNodes * claim) / (seen.Count + PriorNodes);
        }
        return rates;
    }

    /// <summary>
    /// Per node of <paramref name="tree"/>: the conditional probability its draft claims (its path probability over its
    /// parent's, at most 1) and its rank among its siblings by that claim (ties: the earlier node first).
    /// </summary>
    public static (double[] Claimed, int[] Rank) Describe(DraftMessage tree, byte[] confidence)
    {
        int n = tree.Tokens.Length;
        var q = confidence.Select(PathConfidence.Decode).ToArray();
        var claimed = new double[n];
        var rank = new int[n];
        claimed[0] = 1;
        for (int i = 1; i < n; i++) claimed[i] = Math.Min(1, q[i] / Math.Max(q[tree.Parents[i]], 1e-300));
        foreach (var siblings in Enumerable.Range(1, n - 1).GroupBy(i => tree.Parents[i]))
        {
            int r = 0;
            foreach (int i in siblings.OrderByDescending(i => claimed[i]).ThenBy(i => i)) rank[i] = r++;
        }
        return (claimed, rank);
    }
}
