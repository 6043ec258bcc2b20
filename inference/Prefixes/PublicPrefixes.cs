namespace SpecEdge.Inference.Prefixes;

/// <summary>
/// Token sequences an operator declared public (a published system prompt, rendered as conversations start with it):
/// prefix blocks lying wholly inside one of them are shared across tenants. Everything else is shared only within a
/// tenant, because a shorter time to first token would tell one tenant that another sent the same text.
/// </summary>
public sealed class PublicPrefixes
{
    private readonly int[][] _prefixes;

    public PublicPrefixes(IEnumerable<IReadOnlyList<int>> prefixes) => _prefixes = prefixes.Where(p => p.Count > 0).Select(p => p.ToArray()).ToArray();

    public static PublicPrefixes None { get; } = new(Array.Empty<IReadOnlyList<int>>());

    public int Count => _prefixes.Length;

    /// <summary>How many leading tokens of <paramref name="tokens"/> are the start of a declared public prefix (the longest match).</summary>
    public int Covered(IReadOnlyList<int> tokens)
    {
        int best = 0;
        foreach (var prefix in _prefixes)
        {
            int n = Math.Min(prefix.Length, tokens.Count), i = 0;
            while (i < n && prefix[i] == tokens[i]) i++;
            best = Math.Max(best, i);
        }
        return best;
    }
}
