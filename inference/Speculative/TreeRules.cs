namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The rules every draft tree meets, in one place: for the step it claims and the committed tokens it assumes, a root
/// that is the last committed token with parent -1, as many parents (and confidence bytes, if any) as tokens, at most
/// the node limit besides the root, every token in the vocabulary, every parent an earlier node, no token twice among
/// one node's children. Checked where a tree enters: the session for an edge's trees (a bad tree never reaches a
/// verifier), <see cref="TargetSequence.Validate"/> for trees drafted beside the target.
/// </summary>
public static class TreeRules
{
    /// <summary>
    /// The rules of a tree's sizes alone (a root, as many parents and confidence bytes as tokens, at most
    /// <paramref name="maxNodes"/> besides the root): what the edge gateway checks on the wire before any grain.
    /// </summary>
    public static string? Size(int tokens, int parents, int? confidence, int maxNodes) =>
        tokens == 0 ? "Tree has no nodes (node 0 must be the last committed token)."
        : tokens != parents ? $"Tree has {tokens} tokens but {parents} parents."
        : confidence is int c && c != tokens ? $"Tree has {tokens} tokens but {c} confidence bytes."
        : tokens - 1 > maxNodes ? $"Tree has {tokens - 1} nodes besides the root; the limit is {maxNodes} (at most {maxNodes + 1} nodes with the root)."
        : null;

    /// <summary>The first rule the tree breaks, as a message for its sender, or null.</summary>
    /// <param name="whose">Whose state the tree is checked against, for the messages ("session 'tenant/id'", "the sequence").</param>
    public static string? Check(long treeStep, int treeCommitted, int[]? tokens, int[]? parents, byte[]? confidence,
        long step, IReadOnlyList<int> committed, int maxNodes, int vocabSize, string whose)
    {
        if (treeStep != step) return $"Tree is for step {treeStep} but {whose} is at step {step}.";
        if (treeCommitted != committed.Count) return $"Tree assumes {treeCommitted} committed tokens but {whose} has {committed.Count}.";
        if (tokens is null || parents is null) return Size(0, 0, null, maxNodes);
        if (Size(tokens.Length, parents.Length, confidence?.Length, maxNodes) is { } size) return size;
        if (committed.Count == 0 || tokens[0] != committed[^1] || parents[0] != -1)
            return $"Tree root must be the last committed token {(committed.Count > 0 ? committed[^1] : -1)} with parent -1 (got {tokens[0]}, parent {parents[0]}).";
        var childTokens = new HashSet<(int, int)>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] < 0 || tokens[i] >= vocabSize) return $"Token id {tokens[i]} at node {i} is outside the vocabulary [0, {vocabSize}).";
            if (i > 0 && (parents[i] < 0 || parents[i] >= i)) return $"Node {i} has parent {parents[i]}; parents must be earlier nodes (in [0, {i})).";
            if (i > 0 && !childTokens.Add((parents[i], tokens[i]))) return $"Node {i} repeats token {tokens[i]} among the children of node {parents[i]}.";
        }
        return null;
    }
}
