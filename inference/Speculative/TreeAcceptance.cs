namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The acceptance rule, defined in this one place. Given one target sample <c>y[u]</c> per tree node:
/// the root is accepted; node <c>c</c> is accepted iff its parent is accepted and <c>token[c] == y[parent(c)]</c>.
/// Siblings carry distinct tokens, so the accepted nodes form one root-to-node path ending at the deepest accepted
/// node <c>d</c>. The step emits the path's tokens below the root and then the <em>bonus</em> token <c>y[d]</c>.
/// Each emitted token is a target sample at its accepted prefix, hence the output distribution is the target's.
/// </summary>
public static class TreeAcceptance
{
    /// <param name="parents">Tree parents, topological, root at 0 with parent -1.</param>
    /// <param name="tokens">Tree tokens.</param>
    /// <param name="samples">One target sample per node.</param>
    /// <returns>Accepted node indices below the root (ancestors first), the deepest accepted node, and the bonus token.</returns>
    public static (int[] Path, int Deepest, int Bonus) Accept(IReadOnlyList<int> parents, IReadOnlyList<int> tokens, IReadOnlyList<int> samples)
    {
        var accepted = new bool[tokens.Count];
        accepted[0] = true;
        int deepest = 0;
        var depth = new int[tokens.Count];
        for (int c = 1; c < tokens.Count; c++)
        {
            int p = parents[c];
            depth[c] = depth[p] + 1;
            if (accepted[p] && tokens[c] == samples[p])
            {
                accepted[c] = true;
                if (depth[c] > depth[deepest]) deepest = c;
            }
        }
        var path = new List<int>();
        for (int u = deepest; u > 0; u = parents[u]) path.Add(u);
        path.Reverse();
        return (path.ToArray(), deepest, samples[deepest]);
    }
}
