using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// A Hugging Face BPE tokenizer loaded from a model directory's tokenizer.json (+ optional tokenizer_config.json,
/// generation_config.json), giving the same token ids as Hugging Face's own tokenizer: byte-level BPE (Qwen2/Qwen3,
/// Llama 3) or SentencePiece-style BPE with byte fallback (Llama 2, Mistral; tokenizer.model is not needed). Thread-safe after <see cref="Load"/>; loading a 150k vocabulary takes
/// about a second, so load once and share.
/// </summary>
/// <remarks>
/// Encoding: added tokens (e.g. &lt;|im_start|&gt;) are found in the raw text first and become single ids;
/// the text between them is NFC-normalized when the file asks for it, split by the file's regex
/// (code-point-aware, see <see cref="CodePointRegexPreTokenizer"/>), and each piece goes through
/// Microsoft.ML.Tokenizers' byte-level BPE. In a SentencePiece-style file each piece between added tokens gets
/// its spaces spelled '▁' (and a leading '▁' as the file says), then goes through <see cref="SentencePieceBpe"/>.
/// Files this class cannot reproduce exactly (other models, normalizers, pre-tokenizers or decoders) make
/// <see cref="Load"/> throw <see cref="NotSupportedException"/> naming the component.
/// </remarks>
public sealed class HfTokenizer
{
    private readonly BpeTokenizer? _bpe;
    private readonly CodePointRegexPreTokenizer? _splitter;
    private readonly SentencePieceBpe? _sentencePieceBpe;
    private readonly SentencePieceSettings? _sentencePiece;
    /// <summary>Which ids are &lt;0xNN&gt; fallback bytes (their runs decode as one UTF-8 sequence or as U+FFFDs).</summary>
    private readonly bool[] _fallbackByte;
    private readonly AddedTokenMatcher _addedTokens;
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
        int maxId = Math.Max(definition.Vocab.Values.DefaultIfEmpty(-1).Max(),
            definition.AddedTokens.Select(t => t.Id).DefaultIfEmpty(-1).Max());
        VocabSize = maxId + 1;
        _tokenBytes = new byte[VocabSize][];
        _special = new bool[VocabSize];
        _fallbackByte = new bool[VocabSize];

        if (definition.SentencePiece is { } sentencePiece)
        {
            _sentencePiece = sentencePiece;
            _sentencePieceBpe = new SentencePieceBpe(definition.Vocab, definition.Merges, definition.ByteFallback,
                definition.UnknownToken, definition.FuseUnknown);
            foreach (var (token, id) in definition.Vocab)
            {
                _tokenBytes[id] = SentencePieceBpe.TokenBytes(token, sentencePiece.Replacement);
                _fallbackByte[id] = SentencePieceBpe.FallbackByte(token) is not null;
            }
            AddAddedTokenBytes(definition);
            return;
        }

        // Hugging Face's regex is Oniguruma; the patterns these files use (\p{L}, \p{N}, \s, (?i:...),
        // (?!\S), {1,3}) mean the same in .NET once non-BMP characters are handled by the splitter.
        var regex = new Regex(definition.SplitPattern!, RegexOptions.Compiled | RegexOptions.CultureInvariant);
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

        foreach (var (token, id) in definition.Vocab)
        {
            _tokenBytes[id] = ByteLevelAlphabet.ToBytes(token);
        }
        AddAddedTokenBytes(definition);
    }

    private void AddAddedTokenBytes(HfTokenizerDefinition definition)
    {
        foreach (var token in definition.AddedTokens)
        {
            // Added tokens are stored as plain text, not in the byte-level alphabet.
            _tokenBytes[token.Id] = Encoding.UTF8.GetBytes(token.Content);
            _special[token.Id] = token.Special;
            _fallbackByte[token.Id] = false;
        }
    }

    /// <summary>The underlying Microsoft.ML.Tokenizers model, complete with pre-tokenizer, added tokens and
    /// normalizer (it lacks only ignore_merges and the post-processor).</summary>
    internal BpeTokenizer Bpe => _bpe ?? throw new InvalidOperationException("A SentencePiece-style tokenizer has no byte-level BPE model.");

    /// <summary>
    /// How many leading spaces <see cref="Decode"/> removes from a decoded text (the decoder's Strip, 1 for Llama 2:
    /// the '▁' the encoder put before the text). <see cref="StreamingDetokenizer"/> strips the same from a stream.
    /// </summary>
    public int DecodeStripsLeadingSpaces => _sentencePiece?.DecodeStripSpaces ?? 0;

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
        // Whether the pending ordinary text starts the input (no added token before it): a Metaspace "first"
        // prepend applies to that piece only.
        bool atInputStart = true;
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
                FlushOrdinaryText(ordinary, ids, atInputStart);
                atInputStart = false;
                ids.Add(hit.Token.Id);
                start = hit.Index + hit.Token.Content.Length;
            }
        }
        FlushOrdinaryText(ordinary, ids, atInputStart);
        if (addSpecialTokens)
        {
            ids.AddRange(_suffixIds);
        }
        return ids.ToArray();
    }

    private void FlushOrdinaryText(StringBuilder ordinary, List<int> ids, bool atInputStart)
    {
        if (ordinary.Length == 0)
        {
            return;
        }
        if (_sentencePiece is not null)
        {
            EncodeSentencePieceText(ordinary.ToString(), atInputStart, ids);
        }
        else
        {
            EncodeOrdinaryText(ordinary.ToString(), ids);
        }
        ordinary.Clear();
    }

    private void EncodeSentencePieceText(string text, bool atInputStart, List<int> ids)
    {
        var settings = _sentencePiece!;
        char mark = settings.Replacement;
        string spelled = text.Replace(' ', mark);
        bool prepend = settings.Prepend switch
        {
            MetaspacePrepend.EveryPiece => true,
            MetaspacePrepend.Always => spelled[0] != mark,
            MetaspacePrepend.First => atInputStart && spelled[0] != mark,
            _ => false,
        };
        if (prepend)
        {
            spelled = mark + spelled;
        }
        var bpe = _sentencePieceBpe!;
        if (!settings.SplitWords && !bpe.WordStartsAreBoundaries)
        {
            bpe.EncodeWord(spelled, ids);
            return;
        }
        // Metaspace split: every '▁' begins a word (the first word may lack one). Without split, the text is one
        // word for Hugging Face, and only a run of '▁' after other characters is a safe place to cut.
        int start = 0;
        for (int i = 1; i <= spelled.Length; i++)
        {
            if (i == spelled.Length || (spelled[i] == mark && (settings.SplitWords || spelled[i - 1] != mark)))
            {
                bpe.EncodeWord(spelled.AsSpan(start, i - start), ids);
                start = i;
            }
        }
    }

    private void EncodeOrdinaryText(string text, List<int> ids)
    {
        if (_normalizeNfc)
        {
            text = NfcNormalizer.Instance.Normalize(text);
        }
        foreach (var (offset, length) in _splitter!.Split(text))
        {
            var piece = text.AsSpan(offset, length);
            if (_ignoreMerges && TryWholeWord(piece, out int id))
            {
                // Llama 3 (ignore_merges): a piece that is itself a vocabulary entry is that entry, even
                // where applying merges in rank order would end elsewhere (tiktoken behaviour).
                ids.Add(id);
                continue;
            }
            ids.AddRange(_bpe!.EncodeToIds(piece, considerPreTokenization: false, considerNormalization: false));
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

    /// <summary>
    /// Text of <paramref name="ids"/> as Hugging Face decodes it; invalid UTF-8 (a character cut between ids) becomes
    /// U+FFFD. A SentencePiece-style tokenizer turns '▁' into spaces, a run of &lt;0xNN&gt; tokens into its UTF-8
    /// text (or one U+FFFD per byte when the run is not valid UTF-8), and drops the leading spaces its decoder strips.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An id is negative, at least <see cref="VocabSize"/>, or unused.</exception>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        if (_sentencePiece is null)
        {
            return Encoding.UTF8.GetString(DecodeBytes(ids, skipSpecialTokens));
        }
        ArgumentNullException.ThrowIfNull(ids);
        var text = new StringBuilder();
        var run = new List<byte>();
        var strict = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        void FlushRun()
        {
            if (run.Count == 0) return;
            try
            {
                text.Append(strict.GetString(run.ToArray()));
            }
            catch (DecoderFallbackException)
            {
                text.Append('\uFFFD', run.Count);
            }
            run.Clear();
        }
        foreach (int id in ids)
        {
            var bytes = TokenBytes(id);
            if (skipSpecialTokens && IsSpecial(id))
            {
                continue;
            }
            if (_fallbackByte[id])
            {
                run.Add(bytes[0]);
                continue;
            }
            FlushRun();
            text.Append(Encoding.UTF8.GetString(bytes));
        }
        FlushRun();
        int strip = 0;
        while (strip < _sentencePiece.DecodeStripSpaces && strip < text.Length && text[strip] == ' ')
        {
            strip++;
        }
        return text.ToString(strip, text.Length - strip);
    }

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
