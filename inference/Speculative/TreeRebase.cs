using SpecEdge.Protocol;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// A tree drafted for a step the session has since passed, moved onto where the session is now. After a hand-back run
/// the server goes on decoding while the edge drafts its next tree (<c>TreeIntake</c>), so that tree arrives rooted a
/// few tokens back. Those tokens are the target's own; if they are a path of the tree, the subtree below that path is a
/// tree for the session's current step, and the draft's guesses past the server's tokens are still worth verifying. If
/// they leave the tree, nothing of it applies and what is left is its root: a plain step.
/// <para>
/// The subtree keeps the tree's node order, so it is still best first (any prefix of it is a tree), and its confidence
/// bytes become conditional on the path the server took (a log-scale byte: the path's byte subtracted), which is the
/// probability the verifier prices each node by once that path is given.
/// </para>
/// </summary>
public static class TreeRebase
{
    /// <summary>
    /// <paramref name="tree"/> (well formed, for <paramref name="since"/>'s start) moved past <paramref name="since"/>, the
    /// tokens committed after the tree's own committed length, as the tree for <paramref name="step"/> with
    /// <paramref name="committedLength"/> tokens. Returns it and how many of its draft nodes (besides the root) survived.
    /// </summary>
    public static (DraftMessage Tree, int Kept) Onto(DraftMessage tree, IReadOnlyList<int> since, long step, int committedLength)
    {
        ArgumentNullException.ThrowIfNull(tree);
        if (since.Count == 0) throw new ArgumentException("A tree is rebased past at least one committed token.", nameof(since));
        int node = 0;
        foreach (int token in since)
        {
            node = ChildWith(tree, node, token);
            if (node < 0) return (RootOnly(since[^1], step, committedLength, tree.Confidence is not null), 0);
        }

        // The subtree under `node`, in the tree's order: a node is in it when its parent is (parents come first).
        var index = new int[tree.Tokens.Length];
        Array.Fill(index, -1);
        index[node] = 0;
        var tokens = new List<int> { tree.Tokens[node] };
        var parents = new List<int> { -1 };
        var confidence = tree.Confidence is null ? null : new List<byte> { 0 };
        for (int i = node + 1; i < tree.Tokens.Length; i++)
        {
            if (index[tree.Parents[i]] < 0) continue;
            index[i] = tokens.Count;
            tokens.Add(tree.Tokens[i]);
            parents.Add(index[tree.Parents[i]]);
            confidence?.Add((byte)Math.Max(0, tree.Confidence![i] - tree.Confidence[node]));
        }
        return (new DraftMessage(step, committedLength, tokens.ToArray(), parents.ToArray(), confidence?.ToArray()), tokens.Count - 1);
    }

    private static int ChildWith(DraftMessage tree, int parent, int token)
    {
        for (int i = parent + 1; i < tree.Tokens.Length; i++)
            if (tree.Parents[i] == parent && tree.Tokens[i] == token) return i;
        return -1;
    }

    private static DraftMessage RootOnly(int lastCommitted, long step, int committedLength, bool withConfidence) =>
        new(step, committedLength, new[] { lastCommitted }, new[] { -1 }, withConfidence ? new byte[] { 0 } : null);
}
