using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// A Hugging Face byte-level BPE tokenizer (Qwen2/Qwen3, Llama 3 style) loaded from a model directory's
/// tokenizer.json (+ optional tokenizer_config.json, generation_config.json), giving the same token ids
/// as Hugging Face's own tokenizer. Thread-safe after <see cref="Load"/>; loading a 150k vocabulary takes
/// about a second, so load once and share.
/// </summary>
/// <remarks>
/// Encoding: added tokens (e.g. &lt;|im_start|&gt;) are found in the raw text first and become single ids;
/// the text between them is NFC-normalized when the file asks for it, split by the file's regex
/// (code-point-aware, see <see cref="CodePointRegexPreTokenizer"/>), and each piece goes through
/// Microsoft.ML.Tokenizers' byte-level BPE. Files this class cannot reproduce exactly (SentencePiece-style
/// BPE with byte fallback as in Llama 2, other models, normalizers or pre-tokenizers) make
/// <see cref="Load"/> throw <see cref="NotSupportedException"/> naming the component.
/// </remarks>
public sealed class HfTokenizer
{
    private readonly BpeTokenizer _bpe;
    private readonly AddedTokenMatcher _addedTokens;
    private readonly CodePointRegexPreTokenizer _splitter;
    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int> _addedByContent;
    private readonly byte[]?[] _tokenBytes;
    private readonly bool[] _special;
    private readonly bool _normalizeNfc;
    private readonly bool _ignoreMerges;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;

    private HfTokenizer(HfTokenizerDefinition definition)
    {
        _vocab = definition.Vocab;
        _normalizeNfc = definition.NormalizeNfc;
        _ignoreMerges = definition.IgnoreMerges;
        _prefixIds = definition.PrefixIds;
        _suffixIds = definition.SuffixIds;
        BosTokenId = definition.BosTokenId;
        EosTokenIds = definition.EosTokenIds;
        ChatTemplateSource = definition.ChatTemplate;
        _addedByContent = definition.AddedTokens.ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        _addedTokens = new AddedTokenMatcher(definition.AddedTokens);

        // Hugging Face's regex is Oniguruma; the patterns these files use (\p{L}, \p{N}, \s, (?i:...),
        // (?!\S), {1,3}) mean the same in .NET once non-BMP characters are handled by the splitter.
        var regex = new Regex(definition.SplitPattern, RegexOptions.Compiled | RegexOptions.CultureInvariant);
        _splitter = new CodePointRegexPreTokenizer(regex, addedTokens: null);

        // Added tokens go both to the BPE options (so a piece equal to one maps to its id) and to the
        // pre-tokenizer (so it is a piece of its own); without the second the regex would cut
        // "<|im_start|>" into "<|", "im", "_start", "|>". Encode below finds added tokens itself, but the
        // BpeTokenizer is configured complete so that it is right on its own too.
        _bpe = BpeTokenizer.Create(new BpeOptions(definition.Vocab)
        {
            Merges = definition.Merges,
            ByteLevel = true,
            SpecialTokens = _addedByContent,
            PreTokenizer = new CodePointRegexPreTokenizer(regex, _addedTokens),
            Normalizer = definition.NormalizeNfc ? NfcNormalizer.Instance : null,
        });

        int maxId = Math.Max(definition.Vocab.Values.DefaultIfEmpty(-1).Max(),
            definition.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max());
        VocabSize = maxId + 1;
        _tokenBytes = new byte[VocabSize][];
        _special = new bool[VocabSize];
        foreach (var (token, id) in definition.Vocab)
        {
            _tokenBytes[id] = ByteLevelAlphabet.ToBytes(token);
        }
        foreach (var token in definition.AddedTokens)
        {
            // Added tokens are stored as plain text, not in the byte-level alphabet.
            _tokenBytes[token.Id] = Encoding.UTF8.GetBytes(token.Content);
            _special[token.Id] = token.Special;
        }
    }

    /// <summary>The underlying Microsoft.ML.Tokenizers model, complete with pre-tokenizer, added tokens and
    /// normalizer (it lacks only ignore_merges and the post-processor).</summary>
    internal BpeTokenizer Bpe => _bpe;

    /// <summary>Number of token ids including added tokens (highest id + 1): the model's minimum vocab size.</summary>
    public int VocabSize { get; }

    /// <summary>The beginning-of-sequence token from tokenizer_config.json (null for Qwen).</summary>
    public int? BosTokenId { get; }

    /// <summary>Ids that end generation: tokenizer_config's eos_token, then generation_config's eos_token_id.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>The Jinja chat template of tokenizer_config.json, if any (used to pick a <see cref="ChatFormat"/>).</summary>
    public string? ChatTemplateSource { get; }

    /// <summary>
    /// False when the file asks for NFC but this process cannot normalize (InvariantGlobalization): text that
    /// is not already NFC may then get other ids than Hugging Face gives.
    /// </summary>
    public bool NormalizationIsExact => !_normalizeNfc || NfcNormalizer.IsExact;

    /// <summary>Loads the tokenizer of a model directory holding tokenizer.json.</summary>
    /// <exception cref="NotSupportedException">The file uses a model or component HfTokenizer does not reproduce.</exception>
    public static HfTokenizer Load(string modelDirectory) => new(HfTokenizerDefinition.Load(modelDirectory));

    /// <summary>
    /// Token ids of <paramref name="text"/>. Added tokens written in the text (&lt;|im_start|&gt;) become their
    /// single ids, unless <paramref name="parseSpecialTokens"/> is false: then the whole text is ordinary text (for
    /// text from people, who must not be able to forge a chat template's markers). With
    /// <paramref name="addSpecialTokens"/>, the tokens the file's post-processor or tokenizer_config (add_bos_token)
    /// asks for are added, e.g. Llama 3's &lt;|begin_of_text|&gt;.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens = false, bool parseSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Encode(new[] { new PromptSegment(text, IsMarkup: parseSpecialTokens) }, addSpecialTokens);
    }

    /// <summary>
    /// Token ids of the concatenated <paramref name="segments"/>, where added tokens are recognised in markup segments
    /// only. Ordinary text runs on across segment boundaries before it is split and merged, so the ids equal those of
    /// <see cref="Encode(string, bool, bool)"/> on the concatenation whenever the contents spell no added token.
    /// </summary>
    public int[] Encode(IReadOnlyList<PromptSegment> segments, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(segments);
        var ids = new List<int>(segments.Sum(s => s.Text?.Length ?? 0) / 3 + 4);
        if (addSpecialTokens)
        {
            ids.AddRange(_prefixIds);
        }
        var ordinary = new StringBuilder();
        foreach (var segment in segments)
        {
            string text = segment.Text ?? throw new ArgumentException("A prompt segment has no text.", nameof(segments));
            if (!segment.IsMarkup)
            {
                ordinary.Append(text);
                continue;
            }
            int start = 0;
            while (start < text.Length)
            {
                var next = _addedTokens.FindNext(text, start);
                int end = next?.Index ?? text.Length;
                ordinary.Append(text, start, end - start);
                if (next is not { } hit)
                {
                    break;
                }
                FlushOrdinaryText(ordinary, ids);
                ids.Add(hit.Token.Id);
                start = hit.Index + hit.Token.Content.Length;
            }
        }
        FlushOrdinaryText(ordinary, ids);
        if (addSpecialTokens)
        {
            ids.AddRange(_suffixIds);
        }
        return ids.ToArray();
    }

    private void FlushOrdinaryText(StringBuilder ordinary, List<int> ids)
    {
        if (ordinary.Length == 0)
        {
            return;
        }
        EncodeOrdinaryText(ordinary.ToString(), ids);
        ordinary.Clear();
    }

    private void EncodeOrdinaryText(string text, List<int> ids)
    {
        if (_normalizeNfc)
        {
            text = NfcNormalizer.Instance.Normalize(text);
        }
        foreach (var (offset, length) in _splitter.Split(text))
        {
            var piece = text.AsSpan(offset, length);
            if (_ignoreMerges && TryWholeWord(piece, out int id))
            {
                // Llama 3 (ignore_merges): a piece that is itself a vocabulary entry is that entry, even
                // where applying merges in rank order would end elsewhere (tiktoken behaviour).
                ids.Add(id);
                continue;
            }
            ids.AddRange(_bpe.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
        }
    }

    private bool TryWholeWord(ReadOnlySpan<char> piece, out int id)
    {
        Span<byte> buffer = stackalloc byte[256];
        int max = Encoding.UTF8.GetMaxByteCount(piece.Length);
        byte[] bytes = max <= buffer.Length ? [] : new byte[max];
        Span<byte> target = max <= buffer.Length ? buffer : bytes;
        int n = Encoding.UTF8.GetBytes(piece, target);
        return _vocab.TryGetValue(ByteLevelAlphabet.FromBytes(target[..n]), out id);
    }

    /// <summary>Text of <paramref name="ids"/>; invalid UTF-8 (a character cut between ids) becomes U+FFFD.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative, at least <see cref="VocabSize"/>, or unused.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        Encoding.UTF8.GetString(DecodeBytes(ids, skipSpecialTokens));

    /// <summary>The UTF-8 bytes of <paramref name="ids"/>, which may end inside a character (for streaming).</summary>
    public byte[] DecodeBytes(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (skipSpecialTokens && IsSpecial(id))
            {
                continue;
            }
            bytes.AddRange(TokenBytes(id));
        }
        return bytes.ToArray();
    }

    /// <summary>The UTF-8 bytes one token stands for (a piece of a character for some byte-level tokens).</summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        if ((uint)id >= (uint)VocabSize || _tokenBytes[id] is null)
        {
            throw new ArgumentOutOfRangeException(nameof(id), id,
                $"Token id {id} is not in the vocabulary (vocab size {VocabSize}" +
                ((uint)id < (uint)VocabSize ? ", id unused)." : ")."));
        }
        return _tokenBytes[id];
    }

    /// <summary>Whether <paramref name="id"/> is an added token marked special (skipped by skipSpecialTokens).</summary>
    public bool IsSpecial(int id) => (uint)id < (uint)VocabSize && _special[id];

    /// <summary>The id of an added token (e.g. "&lt;|im_end|&gt;") or of a vocabulary entry in its byte-level spelling.</summary>
    public int? TokenToId(string token) =>
        _addedByContent.TryGetValue(token, out int id) || _vocab.TryGetValue(token, out id) ? id : null;
}
