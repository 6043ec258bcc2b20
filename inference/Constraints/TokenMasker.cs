namespace SpecEdge.Inference.Constraints;

/// <summary>
/// Which tokens a grammar allows next: one bit per token of a <see cref="TokenVocabulary"/>. Three ways, all giving
/// the answer of checking every token's bytes against the state (<see cref="Allows"/>), which the tests compare them with:
/// <list type="bullet">
/// <item>a complete value allows exactly the stop ids;</item>
/// <item>inside a string, the vocabulary's precomputed set of tokens that stay inside it, plus those of the few tokens
/// that close it whose remaining bytes the state accepts;</item>
/// <item>elsewhere, a walk of the vocabulary's trie that follows only bytes the state accepts (between strings the
/// grammar allows few bytes, so the walk visits few nodes).</item>
/// </list>
/// Masks are cached per state: a reply spends most steps in states it has seen (inside a string, after a value), so
/// most steps cost a dictionary lookup. The cache is bounded and shared by every sequence on the device.
/// </summary>
public sealed class TokenMasker(TokenVocabulary vocabulary, int cacheCapacity = 1024)
{
    private readonly Dictionary<GrammarState, ulong[]> _cache = new();
    private readonly object _gate = new();

    public TokenVocabulary Vocabulary => vocabulary;
    public long Hits { get; private set; }
    public long Misses { get; private set; }

    /// <summary>The allowed tokens in <paramref name="state"/> (do not modify the array: it is shared).</summary>
    public ulong[] Allowed(GrammarState state) => Allowed(state, out _);

    /// <summary>As <see cref="Allowed(GrammarState)"/>; <paramref name="computed"/> says whether it was not cached (it cost a computation).</summary>
    public ulong[] Allowed(GrammarState state, out bool computed)
    {
        computed = false;
        lock (_gate)
        {
            if (_cache.TryGetValue(state, out var known))
            {
                Hits++;
                return known;
            }
        }
        computed = true;
        var mask = Compute(state);
        // Every byte is some token in the vocabularies we load, so a reachable state always has a way on; a vocabulary
        // without one would leave a row all -inf, which no sampler can draw from. Checked once, when computed.
        if (!mask.Any(w => w != 0)) throw new InvalidOperationException("No token of the vocabulary can continue the JSON at this point.");
        lock (_gate)
        {
            Misses++;
            // Bounded: a caller cycling through endless distinct states costs its own steps time, never unbounded memory.
            if (_cache.Count >= cacheCapacity) _cache.Clear();
            _cache[state] = mask;
        }
        return mask;
    }

    /// <summary>The mask of <paramref name="state"/>, computed without the cache.</summary>
    public ulong[] Compute(GrammarState state)
    {
        var mask = new ulong[vocabulary.Words];
        if (state.IsComplete)
        {
            foreach (int t in vocabulary.StopIds) Set(mask, t);
            if (!state.MayContinue) return mask;
        }
        if (state.StringLexerState is int lexer and >= 0)
        {
            vocabulary.InString(lexer).CopyTo(mask, 0);
            foreach (int t in vocabulary.Closing(lexer))
                if (state.Advance(vocabulary.Bytes(t)) is not null) Set(mask, t);
            return mask;
        }
        var stack = new Stack<(int Node, GrammarState State)>();
        stack.Push((0, state));
        while (stack.Count > 0)
        {
            var (node, at) = stack.Pop();
            for (int child = vocabulary.FirstChild(node); child >= 0; child = vocabulary.NextSibling(child))
            {
                if (at.Advance(vocabulary.Label(child)) is not { } next) continue;
                for (int t = vocabulary.FirstToken(child); t >= 0; t = vocabulary.NextToken(t)) Set(mask, t);
                if (vocabulary.FirstChild(child) >= 0) stack.Push((child, next));
            }
        }
        return mask;
    }

    /// <summary>The definition: whether <paramref name="token"/> may follow <paramref name="state"/>, from its bytes alone.</summary>
    public bool Allows(GrammarState state, int token)
    {
        if (state.IsComplete && vocabulary.StopIds.Contains(token)) return true;
        if (state.IsComplete && !state.MayContinue) return false;
        return vocabulary.Bytes(token) is { } bytes && state.Advance(bytes) is not null;
    }

    public static bool IsSet(ulong[] mask, int token) => (mask[token >> 6] & (1UL << (token & 63))) != 0;

    public static int Count(ulong[] mask) => mask.Sum(w => System.Numerics.BitOperations.PopCount(w));

    private static void Set(ulong[] mask, int token) => mask[token >> 6] |= 1UL << (token & 63);
}
