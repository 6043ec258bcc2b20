using SpecEdge.Inference.Tokenization;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Json.Nodes;

namespace SpecEdge.Inference.Training;

/// <summary>
/// A byte-level BPE vocabulary (GPT-2 style) as produced by <see cref="ByteLevelBpeTrainer"/>: 256 byte tokens, one token
/// per merge in merge order, then the special tokens at the top ids. Encodes exactly as a Hugging Face tokenizer.json
/// with this vocabulary, these merges and <see cref="Gpt2PreTokenizer"/> does (no normalizer).
/// </summary>
public sealed class ByteLevelBpeTokenizer
{
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<(int Left, int Right), (int Rank, int Merged)> _merges = new();
    private readonly ConcurrentDictionary<string, int[]> _pieceCache = new();

    /// <summary>Token strings (byte-level characters) by id, special tokens included.</summary>
    public IReadOnlyList<string> Tokens { get; }
    /// <summary>Merges by rank, as pairs of token strings.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges { get; }
    /// <summary>Special token content -> id; these are matched in text before pre-tokenisation.</summary>
    public IReadOnlyDictionary<string, int> SpecialTokens { get; }
    public int VocabSize => Tokens.Count;

    public ByteLevelBpeTokenizer(IReadOnlyList<(string Left, string Right)> merges, IReadOnlyList<string> specialTokens)
    {
        var tokens = ByteLevelAlphabet.BytesInVocabOrder.Select(b => ByteLevelAlphabet.Char(b).ToString()).ToList();
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++) _ids[tokens[i]] = i;
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (l, r) = merges[rank];
            if (!_ids.TryGetValue(l, out int li) || !_ids.TryGetValue(r, out int ri))
                throw new ArgumentException($"Merge {rank} ('{l}' '{r}') uses a token that no earlier merge produced.");
            string merged = l + r;
            if (_ids.ContainsKey(merged)) throw new ArgumentException($"Merge {rank} produces '{merged}', which already exists.");
            _ids[merged] = tokens.Count;
            _merges[(li, ri)] = (rank, tokens.Count);
            tokens.Add(merged);
        }
        var specials = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var s in specialTokens)
        {
            if (_ids.ContainsKey(s)) throw new ArgumentException($"Special token '{s}' collides with a BPE token.");
            specials[s] = tokens.Count;
            _ids[s] = tokens.Count;
            tokens.Add(s);
        }
        Tokens = tokens;
        Merges = merges.ToList();
        SpecialTokens = specials;
    }

    /// <summary>
    /// Reads back a tokenizer.json written by <see cref="TokenizerJsonWriter"/> (merges as pairs or "a b" strings), checking
    /// that its vocabulary assigns every token the id this class derives from the merge order.
    /// </summary>
    public static ByteLevelBpeTokenizer Load(string tokenizerJsonPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(tokenizerJsonPath)) as JsonObject
            ?? throw new InvalidDataException($"{tokenizerJsonPath} must hold a JSON object.");
        var model = root["model"] as JsonObject ?? throw new InvalidDataException($"{tokenizerJsonPath}: no 'model'.");
        if (model["type"]?.GetValue<string>() != "BPE") throw new InvalidDataException($"{tokenizerJsonPath}: model type is not BPE.");
        var merges = (model["merges"] as JsonArray ?? throw new InvalidDataException($"{tokenizerJsonPath}: no merges."))
            .Select(m => m is JsonArray pair ? (pair[0]!.GetValue<string>(), pair[1]!.GetValue<string>())
                : m!.GetValue<string>().Split(' ') is [var l, var r] ? (l, r)
                : throw new InvalidDataException($"{tokenizerJsonPath}: bad merge {m.ToJsonString()}."))
            .ToList();
        var specials = (root["added_tokens"] as JsonArray ?? new JsonArray())
            .OrderBy(t => t!["id"]!.GetValue<int>()).Select(t => t!["content"]!.GetValue<string>()).ToList();
        var tokenizer = new ByteLevelBpeTokenizer(merges, specials);
        foreach (var (token, id) in (model["vocab"] as JsonObject)!)
            if (tokenizer.Id(token) != id!.GetValue<int>())
                throw new InvalidDataException($"{tokenizerJsonPath}: '{token}' has id {id} in the vocab but {tokenizer.Id(token)} by merge order.");
        foreach (var t in (root["added_tokens"] as JsonArray)!)
            if (tokenizer.Id(t!["content"]!.GetValue<string>()) != t["id"]!.GetValue<int>())
                throw new InvalidDataException($"{tokenizerJsonPath}: added token {t.ToJsonString()} is not at the top of the vocabulary in order.");
        return tokenizer;
    }

    /// <summary>The id of <paramref name="token"/> (a byte-level token string or a special token).</summary>
    public int Id(string token) => _ids.TryGetValue(token, out int id) ? id
        : throw new KeyNotFoundException($"'{token}' is not in the vocabulary.");

    /// <summary>Token ids of <paramref name="text"/>; special token strings in the text become their ids.</summary>
    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        int start = 0;
        while (start < text.Length)
        {
            var (at, special) = NextSpecial(text, start);
            foreach (var piece in Gpt2PreTokenizer.Split(text[start..at]))
                ids.AddRange(_pieceCache.GetOrAdd(piece, EncodePiece));
            if (special is null) break;
            ids.Add(SpecialTokens[special]);
            start = at + special.Length;
        }
        return ids.ToArray();
    }

    private (int At, string? Special) NextSpecial(string text, int start)
    {
        int best = text.Length;
        string? found = null;
        foreach (var s in SpecialTokens.Keys)
        {
            int i = text.IndexOf(s, start, StringComparison.Ordinal);
            if (i >= 0 && (i < best || (i == best && s.Length > found!.Length))) { best = i; found = s; }
        }
        return (best, found);
    }

    /// <summary>BPE inside one pre-token: repeatedly merge the adjacent pair of lowest rank, leftmost first.</summary>
    private int[] EncodePiece(string piece)
    {
        var symbols = ByteLevelAlphabet.Encode(piece).Select(c => _ids[c.ToString()]).ToList();
        while (symbols.Count > 1)
        {
            int bestAt = -1, bestRank = int.MaxValue, bestMerged = 0;
            for (int i = 0; i + 1 < symbols.Count; i++)
                if (_merges.TryGetValue((symbols[i], symbols[i + 1]), out var m) && m.Rank < bestRank)
                    (bestAt, bestRank, bestMerged) = (i, m.Rank, m.Merged);
            if (bestAt < 0) break;
            symbols[bestAt] = bestMerged;
            symbols.RemoveAt(bestAt + 1);
        }
        return symbols.ToArray();
    }

    public bool IsSpecial(int id) => id >= Tokens.Count - SpecialTokens.Count;

    /// <summary>Number of UTF-8 bytes token <paramref name="id"/> stands for (special tokens: 0).</summary>
    public int ByteLength(int id) => IsSpecial(id) ? 0 : Tokens[id].Length;

    /// <summary>The text of <paramref name="ids"/>; special tokens are written as their content. Invalid UTF-8 becomes U+FFFD.</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        void FlushBytes()
        {
            sb.Append(Encoding.UTF8.GetString(bytes.ToArray()));
            bytes.Clear();
        }
        int firstSpecial = Tokens.Count - SpecialTokens.Count;
        foreach (int id in ids)
        {
            if (id < 0 || id >= Tokens.Count) throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {id} is outside 0..{Tokens.Count - 1}.");
            if (id >= firstSpecial) { FlushBytes(); sb.Append(Tokens[id]); }
            else ByteLevelAlphabet.AppendBytes(Tokens[id], bytes);
        }
        FlushBytes();
        return sb.ToString();
    }
}
