namespace SpecEdge.Inference.Model;

/// <summary>
/// Structure of a token tree appended to a sequence: node <c>i</c> hangs off <c>parents[i]</c>, which must be an
/// earlier node, or -1 for "directly after the committed prefix". A chain is <c>parents = [-1, 0, 1, …]</c>.
/// Positions and the attention mask are derived here from the parents and never taken from a caller.
/// </summary>
public static class TreeLayout
{
    /// <summary>A chain of <paramref name="n"/> tokens: -1, 0, 1, …, n-2.</summary>
    public static int[] Chain(int n) => Enumerable.Range(-1, n).ToArray();

    /// <summary>Checks sizes, token range and topological order; the message names the offending node.</summary>
    public static void Validate(IReadOnlyList<int> tokens, IReadOnlyList<int> parents, int vocabSize)
    {
        if (tokens.Count == 0) throw new ArgumentException("A tree must have at least one token.");
        if (tokens.Count != parents.Count)
            throw new ArgumentException($"Tree has {tokens.Count} tokens but {parents.Count} parent indices.");
        for (int i = 0; i < tokens.Count; i++)
        {
            if (tokens[i] < 0 || tokens[i] >= vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i],
                    $"Token id {tokens[i]} at node {i} is outside the vocabulary [0, {vocabSize}).");
            if (parents[i] < -1 || parents[i] >= i)
                throw new ArgumentException(
                    $"Node {i} has parent index {parents[i]}, which is not an earlier node (parents must be -1 or in [0, {i})).");
        }
    }

    /// <summary>Depth of each node below the prefix (0 for nodes whose parent is -1).</summary>
    public static int[] Depths(IReadOnlyList<int> parents)
    {
        var depth = new int[parents.Count];
        for (int i = 0; i < depth.Length; i++) depth[i] = parents[i] < 0 ? 0 : depth[parents[i]] + 1;
        return depth;
    }

    /// <summary>True when <paramref name="parents"/> is the plain chain (the mask is then causal).</summary>
    public static bool IsChain(IReadOnlyList<int> parents)
    {
        for (int i = 0; i < parents.Count; i++) if (parents[i] != i - 1) return false;
        return true;
    }

    /// <summary>
    /// Row-major [n, prefix + n] attention mask: every node sees the whole prefix, itself and its ancestors.
    /// </summary>
    public static bool[] AttentionMask(IReadOnlyList<int> parents, int prefix)
    {
        int n = parents.Count, width = prefix + n;
        var mask = new bool[n * width];
        for (int i = 0; i < n; i++)
        {
            int row = i * width;
            for (int j = 0; j < prefix; j++) mask[row + j] = true;
            // Ancestors of i are exactly the ancestors of its parent plus the parent: copy the parent's row.
            if (parents[i] >= 0) Array.Copy(mask, parents[i] * width + prefix, mask, row + prefix, parents[i] + 1);
            mask[row + prefix + i] = true;
        }
        return mask;
    }

    /// <summary>Node indices from the first root down to <paramref name="node"/>, ancestors first.</summary>
    public static int[] PathTo(IReadOnlyList<int> parents, int node)
    {
        var path = new List<int>();
        for (int u = node; u >= 0; u = parents[u]) path.Add(u);
        path.Reverse();
        return path.ToArray();
    }
}
