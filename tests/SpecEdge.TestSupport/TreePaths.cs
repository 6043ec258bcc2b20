using SpecEdge.Protocol;

namespace SpecEdge.TestSupport;

/// <summary>Paths through a draft tree as a message carries it, for verdicts that tests and benchmarks make up.</summary>
public static class TreePaths
{
    /// <summary>
    /// The tokens of the tree's first <paramref name="depth"/> nodes along first children (fewer where it ends): the draft's
    /// likeliest path, as nodes come best first.
    /// </summary>
    public static List<int> FirstChildPath(DraftMessage tree, int depth)
    {
        var path = new List<int>();
        for (int at = 0; path.Count < depth;)
        {
            int child = Array.FindIndex(tree.Parents, p => p == at);
            if (child < 0) break;
            path.Add(tree.Tokens[child]);
            at = child;
        }
        return path;
    }
}
