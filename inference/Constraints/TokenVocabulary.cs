using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Inference.Constraints;

/// <summary>
/// A model's tokens as byte strings, arranged for constrained decoding: a trie over the bytes of every token a grammar
/// may emit (not special or stop tokens; added tokens that are not special, such as Qwen's &lt;tool_call&gt;, are their
/// text, so a tool call's tags can be the model's own tokens), the ids that end a reply, and, per <see cref="StringLexer"/> state,
/// which tokens stay inside a JSON string. Built once per model; 152k-token vocabularies take a fraction of a second.
/// </summary>
public sealed class TokenVocabulary
{
    private readonly byte[]?[] _bytes;
    // The trie, flattened: node 0 is the root; children are a linked list (first child, next sibling).
    private readonly int[] _firstChild, _nextSibling, _firstToken, _nextToken;
    private readonly byte[] _label;
    private readonly ulong[]?[] _inString = new ulong[StringLexer.StateCount][];
    private readonly int[]?[] _closing = new int[StringLexer.StateCount][];
    private readonly object _gate = new();

    /// <summary>Width of a logit row (the model's vocabulary, which may exceed the tokenizer's).</summary>
    public int Size { get; }
    /// <summary>Ids that end a reply; a grammar allows them exactly when its value is complete.</summary>
    public IReadOnlyList<int> StopIds { get; }
    /// <summary>Nodes in the trie (for reports).</summary>
    public int TrieNodes => _label.Length;
    public int Words => (Size + 63) / 64;

    /// <param name="tokenBytes">Each id's bytes; null for ids a grammar never emits.</param>
    public TokenVocabulary(IReadOnlyList<byte[]?> tokenBytes, IEnumerable<int> stopIds, int size)
    {
        if (size < tokenBytes.Count) throw new ArgumentException($"A vocabulary of {size} cannot hold {tokenBytes.Count} tokens.", nameof(size));
        Size = size;
        StopIds = stopIds.Where(t => t >= 0 && t < size).Distinct().Order().ToArray();
        _bytes = new byte[size][];
        for (int t = 0; t < tokenBytes.Count; t++)
            if (tokenBytes[t] is { Length: > 0 } b && !StopIds.Contains(t)) _bytes[t] = b;

        var children = new Dictionary<(int Node, byte Label), int>();
        var firstChild = new List<int> { -1 };
        var nextSibling = new List<int> { -1 };
        var firstToken = new List<int> { -1 };
        var label = new List<byte> { 0 };
        _nextToken = Enumerable.Repeat(-1, size).ToArray();
        for (int t = 0; t < size; t++)
        {
            if (_bytes[t] is not { } bytes) continue;
            int node = 0;
            foreach (byte b in bytes)
            {
                if (!children.TryGetValue((node, b), out int child))
                {
                    child = label.Count;
                    label.Add(b);
                    firstChild.Add(-1);
                    firstToken.Add(-1);
                    nextSibling.Add(firstChild[node]);
                    firstChild[node] = child;
                    children[(node, b)] = child;
                }
                node = child;
            }
            _nextToken[t] = firstToken[node];
            firstToken[node] = t;
        }
        _firstChild = firstChild.ToArray();
        _nextSibling = nextSibling.ToArray();
        _firstToken = firstToken.ToArray();
        _label = label.ToArray();
    }

    /// <summary>The vocabulary of <paramref name="tokenizer"/> under a model whose logit rows are <paramref name="size"/> wide.</summary>
    public static TokenVocabulary From(HfTokenizer tokenizer, IEnumerable<int> stopIds, int size)
    {
        var bytes = new byte[]?[tokenizer.VocabSize];
        for (int t = 0; t < bytes.Length; t++)
        {
            if (tokenizer.IsSpecial(t)) continue;
            try { bytes[t] = tokenizer.TokenBytes(t).ToArray(); }
            catch (ArgumentOutOfRangeException) { }    // an unused id
        }
        return new TokenVocabulary(bytes, stopIds, Math.Max(size, bytes.Length));
    }

    /// <summary>The bytes of <paramref name="token"/>, or null if a grammar never emits it (special, stop or unused).</summary>
    public byte[]? Bytes(int token) => (uint)token < (uint)Size ? _bytes[token] : null;

    /// <summary>
    /// Every token whose bytes, read from lexer <paramref name="state"/> inside a string, stay inside it: allowed in that
    /// state whatever surrounds the string.
    /// </summary>
    public ulong[] InString(int state)
    {
        Precompute(state);
        return _inString[state]!;
    }

    /// <summary>Tokens that close the string from lexer <paramref name="state"/> (validly so far): the grammar decides the rest of their bytes.</summary>
    public int[] Closing(int state)
    {
        Precompute(state);
        return _closing[state]!;
    }

    private void Precompute(int state)
    {
        if (Volatile.Read(ref _closing[state]) is not null) return;
        lock (_gate)
        {
            if (_closing[state] is not null) return;
            var inside = new ulong[Words];
            var closing = new List<int>();
            for (int t = 0; t < Size; t++)
            {
                if (_bytes[t] is not { } bytes) continue;
                int s = state;
                foreach (byte b in bytes)
                {
                    s = StringLexer.Next(s, b);
                    if (s < 0) break;
                }
                if (s >= 0) inside[t >> 6] |= 1UL << (t & 63);
                else if (s == StringLexer.Closed) closing.Add(t);
            }
            _inString[state] = inside;
            Volatile.Write(ref _closing[state], closing.ToArray());
        }
    }

    internal int FirstChild(int node) => _firstChild[node];
    internal int NextSibling(int node) => _nextSibling[node];
    internal byte Label(int node) => _label[node];
    internal int FirstToken(int node) => _firstToken[node];
    internal int NextToken(int token) => _nextToken[token];
}
