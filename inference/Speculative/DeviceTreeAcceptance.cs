using SpecEdge.Inference.Model;
using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// <see cref="TreeAcceptance"/>'s rule evaluated for many trees at once on the device where their samples are, so a
/// verify step brings back only what it commits (deepest node, bonus token, path) instead of every sample. Same
/// definition: node c is accepted iff every node on its root path (root excepted) carries the sample of its parent;
/// the deepest accepted node wins, the lowest index among equally deep ones; the bonus is that node's sample.
/// </summary>
public static class DeviceTreeAcceptance
{
    /// <param name="trees">Parents (root 0 with parent -1, topological) and tokens of each tree.</param>
    /// <param name="samples">[rows] int64 on the device: the target sample of every node, tree after tree.</param>
    /// <returns>Per tree: the accepted path below the root (ancestors first), the deepest accepted node, the bonus token.</returns>
    public static (int[] Path, int Deepest, int Bonus)[] Accept(IReadOnlyList<(int[] Parents, int[] Tokens)> trees, Tensor samples)
    {
        int b = trees.Count;
        if (b == 0) return [];
        int nmax = trees.Max(t => t.Tokens.Length);
        using var scope = NewDisposeScope();
        var device = samples.device;
        var parents = new long[b * nmax];
        var tokens = new long[b * nmax];
        var row = new long[b * nmax];
        var real = new bool[b * nmax];
        int offset = 0;
        for (int t = 0; t < b; t++)
        {
            var (p, tok) = trees[t];
            for (int c = 0; c < nmax; c++)
            {
                int i = t * nmax + c;
                bool inTree = c < tok.Length;
                real[i] = inTree;
                parents[i] = inTree && p[c] >= 0 ? p[c] : c;             // root and padding point at themselves
                tokens[i] = inTree ? tok[c] : -1;
                row[i] = offset + (inTree ? c : 0);
            }
            offset += tok.Length;
        }
        var parentT = tensor(parents, device: device).view(b, nmax);
        var sample = samples.index_select(0, tensor(row, device: device)).view(b, nmax);   // [B, n]
        var parentSample = sample.gather(1, parentT);
        var isRoot = KeptScalars.Range(nmax, ScalarType.Int64, device).view(1, nmax).Eq(0);
        var realT = tensor(real, device: device).view(b, nmax);
        var ok = (isRoot | tensor(tokens, device: device).view(b, nmax).eq(parentSample)) & realT;   // [B, n]
        var ancestry = TreeAncestry.AncestorOrSelf(parentT);                                      // [B, n, n]
        var accepted = (ancestry & ok.logical_not().unsqueeze(1)).any(-1).logical_not() & realT;  // all of the root path ok
        var depth = ancestry.sum(-1, type: ScalarType.Int64).Plus(-1);
        var index = KeptScalars.Range(nmax, ScalarType.Int64, device).view(1, nmax);
        var score = where(accepted, depth.Times(nmax + 1).Plus(index.neg().Plus(nmax)), KeptScalars.FullLike(depth, -1));
        var deepest = score.argmax(-1);                                                           // [B]
        var bonus = sample.gather(1, deepest.unsqueeze(1)).squeeze(1);
        var onPath = ancestry.gather(1, deepest.view(b, 1, 1).expand(b, 1, nmax)).squeeze(1);     // [B, n] bool
        var packed = cat(new[] { deepest.unsqueeze(1), bonus.unsqueeze(1), onPath.to_type(ScalarType.Int64), depth }, 1).cpu();
        var values = packed.data<long>().ToArray();
        int width = 2 + 2 * nmax;
        var result = new (int[] Path, int Deepest, int Bonus)[b];
        for (int t = 0; t < b; t++)
        {
            int baseIndex = t * width;
            var path = Enumerable.Range(1, trees[t].Tokens.Length - 1)
                .Where(c => values[baseIndex + 2 + c] != 0)
                .OrderBy(c => values[baseIndex + 2 + nmax + c])
                .ToArray();
            result[t] = (path, (int)values[baseIndex], (int)values[baseIndex + 1]);
        }
        return result;
    }
}
