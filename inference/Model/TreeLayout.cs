namespace SpecEdge.Inference.Model;

/// <summary>
/// Structure of a token tree appended to a sequence: node <c>i</c> hangs off <c>parents[i]</c>, which must be an
/// earlier node, or -1 for "directly after the committed prefix". A chain is <c>parents = [-1, 0, 1, …]</c>.
/// When the cache already holds a pending tree of <c>m</c> nodes, parents number those first (0 … m-1) and the new
/// nodes after them (m …). Positions and the attention mask are derived here and never taken from a caller.
/// </summary>
public static class TreeLayout
{
    /// <summary>A chain of <paramref name="n"/> tokens: -1, 0, 1, …, n-2.</summary>
    public static int[] Chain(int n) => Enumerable.Range(-1, n).ToArray();

    /// <summary>Checks sizes, token range and topological order; the message names the offending node.</summary>
    public static void Validate(IReadOnlyList<int> tokens, IReadOnlyList<int> parents, int vocabSize, int pendingCount = 0)
    {
        if (tokens.Count == 0) throw new ArgumentException("A tree must have at least one token.");
        if (tokens.Count != parents.Count)
            throw new ArgumentException($"Tree has {tokens.Count} tokens but {parents.Count} parent indices.");
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] < 0 || tokens[i] >= vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i],
                    $"Token id {tokens[i]} at node {i} is outside the vocabulary [0, {vocabSize}).");
            int self = pendingCount + i;
            if (parents[i] < -1 || parents[i] >= self)
                throw new ArgumentException(
                    $"Node {i} has parent index {parents[i]}, which is not an earlier node (parents must be -1 or in [0, {self})).");
        }
    }

    /// <summary>Depth of each new node below the prefix (0 for nodes whose parent is -1).</summary>
    public static int[] Depths(IReadOnlyList<int> parents, IReadOnlyList<int>? pendingDepths = null)
    {
        int m = pendingDepths?.Count ?? 0;
        var depth = new int[parents.Count];
        for (int i = 0; i < depth.Length; i++)
        {
            int p = parents[i];
            depth[i] = p < 0 ? 0 : (p < m ? pendingDepths![p] : depth[p - m]) + 1;
        }
        return depth;
    }

    /// <summary>
    /// Row-major [n, prefix + m + n] attention mask for the new nodes: each sees the whole committed prefix, itself
    /// and its ancestors (pending or new), nothing else.
    /// </summary>
    public static bool[] AttentionMask(IReadOnlyList<int> parents, int prefix, IReadOnlyList<int>? pendingParents = null)
    {
        int m = pendingParents?.Count ?? 0, n = parents.Count, width = prefix + m + n;
        var mask = new bool[n * width];
        for (int i = 0; i < n; i++)
        {
            int row = i * width;
            for (int j = 0; j < prefix; j++) mask[row + j] = true;
            for (int u = m + i; u >= 0; u = u < m ? pendingParents![u] : (u == m + i ? parents[i] : parents[u - m]))
                mask[row + prefix + u] = true;
        }
        return mask;
    }

    /// <summary>Node indices from the root down to <paramref name="node"/>, ancestors first.</summary>
    public static int[] PathTo(IReadOnlyList<int> parents, int node)
    {
        var path = new List<int>();
        for (int u = node; u >= 0; u = parents[u]) path.Add(u);
        path.Reverse();
        return path.ToArray();
    }
}
