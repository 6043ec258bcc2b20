using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// The BPE model of SentencePiece-style tokenizer.json files (Llama 2, Mistral): vocabulary entries are plain text
/// with U+2581 ('▁') for a space, a word starts as its characters (Unicode scalars, not UTF-16 units), a character
/// missing from the vocabulary becomes its UTF-8 bytes as &lt;0xNN&gt; tokens (byte_fallback), and merges apply
/// lowest rank first, leftmost first among equal ranks, as Hugging Face's BPE does. Thread-safe.
/// </summary>
internal sealed class SentencePieceBpe
{
    private readonly Dictionary<string, int> _vocab;
    /// <summary>(left id, right id) as <see cref="PairKey"/> -> (rank, merged id).</summary>
    private readonly Dictionary<long, (int Rank, int Id)> _merges;
    private readonly int[] _byteIds;
    private readonly int[] _bmpIds;
    private readonly int? _unknownId;
    private readonly bool _fuseUnknown;

    public SentencePieceBpe(Dictionary<string, int> vocab, IReadOnlyList<string> merges, bool byteFallback, string? unknownToken, bool fuseUnknown)
    {
        _vocab = vocab;
        _merges = new Dictionary<long, (int, int)>(merges.Count, PairKeyComparer.Instance);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            string merge = merges[rank];
            int space = merge.IndexOf(' ');
            if (space <= 0 || space == merge.Length - 1)
            {
                throw new NotSupportedException($"tokenizer.json merge #{rank} '{merge}' is not two tokens separated by a space.");
            }
            string left = merge[..space], right = merge[(space + 1)..];
            if (!vocab.TryGetValue(left, out int a) || !vocab.TryGetValue(right, out int b) || !vocab.TryGetValue(left + right, out int merged))
            {
                throw new NotSupportedException($"tokenizer.json merge #{rank} '{merge}' names a token missing from the vocabulary.");
            }
            _merges.TryAdd(PairKey(a, b), (rank, merged));
        }
        _byteIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = byteFallback && vocab.TryGetValue(ByteTokenName((byte)b), out int id) ? id : -1;
        }
        // Most characters of a word are in the BMP: one array lookup instead of a string per character.
        _bmpIds = new int[char.MaxValue + 1];
        Array.Fill(_bmpIds, -1);
        foreach (var (token, id) in vocab)
        {
            if (token.Length == 1 && !char.IsSurrogate(token[0]))
            {
                _bmpIds[token[0]] = id;
            }
        }
        char mark = '\u2581';
        WordStartsAreBoundaries = !vocab.Keys.Any(token =>
        {
            for (int i = 1; i < token.Length; i++)
            {
                if (token[i] == mark && token[i - 1] != mark) return true;
            }
            return false;
        });
        _unknownId = unknownToken is not null && vocab.TryGetValue(unknownToken, out int unk) ? unk : null;
        _fuseUnknown = fuseUnknown;
    }

    /// <summary>
    /// True when no vocabulary entry has a '▁' right after another character (true of SentencePiece vocabularies,
    /// whose pieces carry '▁' only in front). Then no merge can join across the start of a '▁'-word, so encoding
    /// the words one by one gives exactly the ids of encoding the whole text as one word, in linear instead of
    /// n log n time over the whole text (Llama 2 files have no pre-tokenizer: a 32k-character message is one word).
    /// </summary>
    public bool WordStartsAreBoundaries { get; }

    private static long PairKey(int left, int right) => ((long)left << 32) | (uint)right;

    /// <summary>
    /// long's own hash is left ^ right, and merges of frequent (low) ids would pile into a few buckets; a
    /// multiplicative hash spreads them (measured: 4 KB of English went from ~8 ms to well under 1 ms).
    /// </summary>
    private sealed class PairKeyComparer : IEqualityComparer<long>
    {
        public static readonly PairKeyComparer Instance = new();
        public bool Equals(long x, long y) => x == y;
        public int GetHashCode(long key) => (int)(((ulong)key * 0x9E3779B97F4A7C15UL) >> 32);
    }

    /// <summary>Heap order: lowest rank first, then leftmost, packed in one long so comparisons stay cheap.</summary>
    private static long Priority(int rank, int position) => ((long)rank << 32) | (uint)position;

    /// <summary>The vocabulary spelling of a fallback byte: "&lt;0x0A&gt;" (two upper-case hex digits).</summary>
    public static string ByteTokenName(byte b) => "<0x" + b.ToString("X2", CultureInfo.InvariantCulture) + ">";

    /// <summary>Appends the ids of one pre-tokenized word (already in '▁' spelling) to <paramref name="ids"/>.</summary>
    // Fully optimised from the first call: a prompt is encoded once, so tiered JIT would run most of it unoptimised.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void EncodeWord(ReadOnlySpan<char> word, List<int> ids)
    {
        if (word.IsEmpty)
        {
            return;
        }
        var symbols = new List<int>(word.Length);
        int pendingUnknown = 0;
        Span<byte> utf8 = stackalloc byte[4];
        foreach (var rune in word.EnumerateRunes())
        {
            int id = rune.IsBmp ? _bmpIds[rune.Value] : -1;
            if (id >= 0 || (!rune.IsBmp && _vocab.TryGetValue(rune.ToString(), out id)))
            {
                FlushUnknown(ref pendingUnknown, symbols);
                symbols.Add(id);
                continue;
            }
            int n = rune.EncodeToUtf8(utf8);
            bool allBytes = true;
            for (int i = 0; i < n; i++)
            {
                allBytes &= _byteIds[utf8[i]] >= 0;
            }
            if (allBytes)
            {
                // A fallback byte does not end a run of unknowns in Hugging Face's loop, only a vocabulary hit does.
                for (int i = 0; i < n; i++)
                {
                    symbols.Add(_byteIds[utf8[i]]);
                }
                continue;
            }
            if (_unknownId is null)
            {
                throw new ArgumentException(
                    $"Character U+{rune.Value:X4} is not in the vocabulary, and the tokenizer has neither byte fallback nor an unknown token.");
            }
            if (pendingUnknown > 0 && !_fuseUnknown)
            {
                FlushUnknown(ref pendingUnknown, symbols);
            }
            pendingUnknown++;
        }
        FlushUnknown(ref pendingUnknown, symbols);
        Merge(symbols);
        ids.AddRange(symbols);
    }

    private void FlushUnknown(ref int pending, List<int> symbols)
    {
        if (pending > 0)
        {
            symbols.Add(_unknownId!.Value);
            pending = 0;
        }
    }

    /// <summary>
    /// Applies merges in place: a heap of candidate pairs keyed by (rank, position); an entry is stale when either
    /// side has changed since it was queued, which the merged id check detects.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Merge(List<int> symbols)
    {
        int count = symbols.Count;
        if (count < 2)
        {
            return;
        }
        var ids = symbols.ToArray();
        var prev = new int[count];
        var next = new int[count];
        var alive = new bool[count];
        for (int i = 0; i < count; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
            alive[i] = true;
        }
        var queue = new PriorityQueue<(int Pos, int NewId), long>(count);
        for (int i = 0; i + 1 < count; i++)
        {
            if (_merges.TryGetValue(PairKey(ids[i], ids[i + 1]), out var m))
            {
                queue.Enqueue((i, m.Id), Priority(m.Rank, i));
            }
        }
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            int right = next[pos];
            if (!alive[pos] || right < 0
                || !_merges.TryGetValue(PairKey(ids[pos], ids[right]), out var current) || current.Id != top.NewId)
            {
                continue;
            }
            ids[pos] = top.NewId;
            alive[right] = false;
            next[pos] = next[right];
            if (next[right] >= 0)
            {
                prev[next[right]] = pos;
            }
            if (prev[pos] >= 0 && _merges.TryGetValue(PairKey(ids[prev[pos]], ids[pos]), out var left))
            {
                queue.Enqueue((prev[pos], left.Id), Priority(left.Rank, prev[pos]));
            }
            if (next[pos] >= 0 && _merges.TryGetValue(PairKey(ids[pos], ids[next[pos]]), out var after))
            {
                queue.Enqueue((pos, after.Id), Priority(after.Rank, pos));
            }
        }
        symbols.Clear();
        for (int i = 0; i >= 0 && i < count; i = next[i])
        {
            symbols.Add(ids[i]);
        }
    }

    /// <summary>The byte a &lt;0xNN&gt; token stands for, or null for any other token.</summary>
    public static byte? FallbackByte(string token)
    {
        if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b))
        {
            return b;
        }
        return null;
    }

    /// <summary>The UTF-8 text a vocabulary entry stands for: '▁' is a space, &lt;0xNN&gt; is that byte.</summary>
    public static byte[] TokenBytes(string token, char replacement) =>
        FallbackByte(token) is byte b ? [b] : Encoding.UTF8.GetBytes(token.Replace(replacement, ' '));
}
