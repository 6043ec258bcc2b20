using System.Text.Json;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// What <see cref="HfTokenizer"/> needs from a model directory's tokenizer.json, tokenizer_config.json and
/// generation_config.json, checked for components this implementation does not reproduce: anything it
/// cannot match id for id is refused with the component's name rather than tokenized differently.
/// </summary>
internal sealed class HfTokenizerDefinition
{
    /// <summary>GPT-2's pattern, used by a ByteLevel pre-tokenizer with use_regex = true.</summary>
    private const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    public required Dictionary<string, int> Vocab { get; init; }
    public required List<string> Merges { get; init; }
    public required List<AddedToken> AddedTokens { get; init; }
    /// <summary>The byte-level split regex; null for a SentencePiece-style file.</summary>
    public required string? SplitPattern { get; init; }
    /// <summary>Set for a SentencePiece-style file (BPE with byte fallback and '▁' for spaces, Llama 2 / Mistral).</summary>
    public required SentencePieceSettings? SentencePiece { get; init; }
    public required bool ByteFallback { get; init; }
    public string? UnknownToken { get; init; }
    public required bool FuseUnknown { get; init; }
    public required bool NormalizeNfc { get; init; }
    public required bool IgnoreMerges { get; init; }
    /// <summary>Ids put before / after the text when special tokens are added (BOS, EOS, template tokens).</summary>
    public required int[] PrefixIds { get; init; }
    public required int[] SuffixIds { get; init; }
    public required int? BosTokenId { get; init; }
    public required int[] EosTokenIds { get; init; }
    public string? ChatTemplate { get; init; }

    public static HfTokenizerDefinition Load(string modelDirectory)
    {
        string tokenizerPath = Path.Combine(modelDirectory, "tokenizer.json");
        if (!File.Exists(tokenizerPath))
        {
            throw new FileNotFoundException($"No tokenizer.json in '{modelDirectory}'.", tokenizerPath);
        }
        using var tokenizerJson = JsonDocument.Parse(File.ReadAllBytes(tokenizerPath));
        using var config = ReadOptional(Path.Combine(modelDirectory, "tokenizer_config.json"));
        using var generation = ReadOptional(Path.Combine(modelDirectory, "generation_config.json"));
        var root = tokenizerJson.RootElement;
        var model = root.GetProperty("model");

        bool byteFallback = CheckModel(model);
        var sentencePiece = ReadSentencePiece(root);
        if (byteFallback != sentencePiece is not null)
        {
            throw new NotSupportedException(byteFallback
                ? "tokenizer.json model type 'BPE' with byte_fallback needs SentencePiece-style spaces: a Prepend+Replace('▁') " +
                  "normalizer or a Metaspace pre-tokenizer, and a Replace/ByteFallback/Fuse decoder."
                : "tokenizer.json with SentencePiece-style spaces ('▁') but without byte_fallback is not supported.");
        }
        if (sentencePiece is null)
        {
            CheckByteLevelDecoder(root);
        }
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }
        var merges = new List<string>();
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            // Older files write "a b", newer ones ["a", "b"]; neither byte-level nor '▁'-spelled tokens contain a space.
            merges.Add(merge.ValueKind == JsonValueKind.Array
                ? merge[0].GetString() + " " + merge[1].GetString()
                : merge.GetString()!);
        }
        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedTokens))
        {
            foreach (var t in addedTokens.EnumerateArray())
            {
                foreach (var flag in new[] { "lstrip", "rstrip", "single_word" })
                {
                    if (t.TryGetProperty(flag, out var v) && v.ValueKind == JsonValueKind.True)
                    {
                        throw new NotSupportedException(
                            $"Added token '{t.GetProperty("content").GetString()}' uses '{flag}', which HfTokenizer does not implement.");
                    }
                }
                if (sentencePiece is not null && t.TryGetProperty("normalized", out var nz) && nz.ValueKind == JsonValueKind.True)
                {
                    // Hugging Face finds such a token only after '▁' replaced the spaces, which splits text differently.
                    throw new NotSupportedException(
                        $"Added token '{t.GetProperty("content").GetString()}' is 'normalized' in a SentencePiece-style tokenizer, which HfTokenizer does not implement.");
                }
                added.Add(new AddedToken(t.GetProperty("id").GetInt32(), t.GetProperty("content").GetString()!,
                    t.TryGetProperty("special", out var s) && s.GetBoolean()));
            }
        }

        int? TokenId(string? token) =>
            token is null ? null
            : added.FirstOrDefault(a => a.Content == token)?.Id ?? (vocab.TryGetValue(token, out int id) ? id : null);

        var configRoot = config?.RootElement;
        int? bos = TokenId(TokenString(configRoot, "bos_token"));
        var eos = new List<int>();
        if (TokenId(TokenString(configRoot, "eos_token")) is int eosId)
        {
            eos.Add(eosId);
        }
        if (generation?.RootElement.TryGetProperty("eos_token_id", out var genEos) == true)
        {
            // Instruct models often stop on several ids (Llama 3: <|end_of_text|> and <|eot_id|>).
            foreach (var e in genEos.ValueKind == JsonValueKind.Array ? genEos.EnumerateArray().ToArray() : [genEos])
            {
                if (e.ValueKind == JsonValueKind.Number && !eos.Contains(e.GetInt32()))
                {
                    eos.Add(e.GetInt32());
                }
            }
        }

        var (prefix, suffix) = ReadPostProcessor(root);
        if (prefix.Count == 0 && bos is int b && Flag(configRoot, "add_bos_token"))
        {
            prefix.Add(b);
        }
        if (suffix.Count == 0 && eos.Count > 0 && Flag(configRoot, "add_eos_token"))
        {
            suffix.Add(eos[0]);
        }

        return new HfTokenizerDefinition
        {
            Vocab = vocab,
            Merges = merges,
            AddedTokens = added,
            SplitPattern = sentencePiece is null ? ReadPreTokenizer(root) : null,
            SentencePiece = sentencePiece,
            ByteFallback = byteFallback,
            UnknownToken = model.TryGetProperty("unk_token", out var unk) && unk.ValueKind == JsonValueKind.String ? unk.GetString() : null,
            FuseUnknown = model.TryGetProperty("fuse_unk", out var fuse) && fuse.ValueKind == JsonValueKind.True,
            NormalizeNfc = sentencePiece is null && ReadNormalizer(root),
            IgnoreMerges = model.TryGetProperty("ignore_merges", out var im) && im.ValueKind == JsonValueKind.True,
            PrefixIds = prefix.ToArray(),
            SuffixIds = suffix.ToArray(),
            BosTokenId = bos,
            EosTokenIds = eos.ToArray(),
            ChatTemplate = configRoot?.TryGetProperty("chat_template", out var ct) == true && ct.ValueKind == JsonValueKind.String
                ? ct.GetString() : null,
        };
    }

    private static JsonDocument? ReadOptional(string path) =>
        File.Exists(path) ? JsonDocument.Parse(File.ReadAllBytes(path)) : null;

    private static bool Flag(JsonElement? config, string name) =>
        config?.TryGetProperty(name, out var v) == true && v.ValueKind == JsonValueKind.True;

    /// <summary>A token setting of tokenizer_config.json: a string, or an object with "content".</summary>
    private static string? TokenString(JsonElement? config, string name)
    {
        if (config?.TryGetProperty(name, out var v) != true)
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var c) => c.GetString(),
            _ => null,
        };
    }

    /// <summary>Refuses BPE options this implementation does not reproduce; returns byte_fallback.</summary>
    private static bool CheckModel(JsonElement model)
    {
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "?" : "?";
        if (type != "BPE")
        {
            throw new NotSupportedException(
                $"tokenizer.json model type '{type}' is not supported: HfTokenizer handles BPE (byte-level as in Qwen and " +
                "Llama 3, or SentencePiece-style with byte fallback as in Llama 2 and Mistral).");
        }
        foreach (var name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (model.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString()!.Length > 0)
            {
                throw new NotSupportedException($"tokenizer.json BPE option '{name}' is not supported.");
            }
        }
        if (model.TryGetProperty("dropout", out var d) && d.ValueKind == JsonValueKind.Number && d.GetDouble() > 0)
        {
            throw new NotSupportedException("tokenizer.json BPE dropout is not supported.");
        }
        return model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True;
    }

    private static void CheckByteLevelDecoder(JsonElement root)
    {
        if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind != JsonValueKind.Null)
        {
            string decoderType = decoder.GetProperty("type").GetString()!;
            if (decoderType != "ByteLevel")
            {
                throw new NotSupportedException(
                    $"tokenizer.json decoder '{decoderType}' is not supported for byte-level BPE: HfTokenizer handles the ByteLevel decoder.");
            }
        }
    }

    /// <summary>
    /// The '▁' handling of a SentencePiece-style file, or null when the file has none of it. Two layouts exist: the
    /// legacy one (normalizer Prepend('▁') + Replace(' ' -> '▁'), no pre-tokenizer; Llama 2, Mistral v0.1) and the
    /// newer one (no normalizer, a Metaspace pre-tokenizer). Both decode with Replace('▁' -> ' '), ByteFallback, Fuse
    /// and optionally Strip(' ', n, 0).
    /// </summary>
    private static SentencePieceSettings? ReadSentencePiece(JsonElement root)
    {
        JsonElement? normalizer = root.TryGetProperty("normalizer", out var n) && n.ValueKind != JsonValueKind.Null ? n : null;
        JsonElement? preTokenizer = root.TryGetProperty("pre_tokenizer", out var p) && p.ValueKind != JsonValueKind.Null ? p : null;
        char replacement;
        MetaspacePrepend prepend;
        bool split;
        if (preTokenizer is { } pre && pre.GetProperty("type").GetString() == "Metaspace")
        {
            if (normalizer is not null)
            {
                throw new NotSupportedException("tokenizer.json with a Metaspace pre-tokenizer and a normalizer is not supported.");
            }
            replacement = SingleChar(pre.GetProperty("replacement").GetString(), "Metaspace replacement");
            string scheme = pre.TryGetProperty("prepend_scheme", out var ps) ? ps.GetString() ?? "always"
                : pre.TryGetProperty("add_prefix_space", out var aps) && !aps.GetBoolean() ? "never" : "always";
            prepend = scheme switch
            {
                "first" => MetaspacePrepend.First,
                "always" => MetaspacePrepend.Always,
                "never" => MetaspacePrepend.Never,
                _ => throw new NotSupportedException($"Metaspace prepend_scheme '{scheme}' is not supported."),
            };
            split = !pre.TryGetProperty("split", out var sp) || sp.GetBoolean();
        }
        else if (normalizer is { } norm && norm.GetProperty("type").GetString() == "Sequence"
            && norm.GetProperty("normalizers").EnumerateArray().Select(e => e.GetProperty("type").GetString()).SequenceEqual(["Prepend", "Replace"]))
        {
            if (preTokenizer is { } other)
            {
                throw new NotSupportedException(
                    $"tokenizer.json with a Prepend/Replace normalizer and pre-tokenizer '{other.GetProperty("type").GetString()}' is not supported.");
            }
            var steps = norm.GetProperty("normalizers");
            replacement = SingleChar(steps[0].GetProperty("prepend").GetString(), "Prepend normalizer");
            var replace = steps[1];
            if (!replace.GetProperty("pattern").TryGetProperty("String", out var from) || from.GetString() != " "
                || replace.GetProperty("content").GetString() != replacement.ToString())
            {
                throw new NotSupportedException("tokenizer.json Replace normalizer must turn ' ' into the prepended character.");
            }
            prepend = MetaspacePrepend.EveryPiece;
            split = false;
        }
        else
        {
            return null;
        }
        return new SentencePieceSettings(replacement, prepend, split, ReadSentencePieceDecoder(root, replacement));
    }

    private static char SingleChar(string? text, string what) =>
        text is { Length: 1 } ? text[0] : throw new NotSupportedException($"tokenizer.json {what} '{text}' is not one character.");

    /// <summary>Checks the decoder is Replace('▁' -> ' '), ByteFallback, Fuse[, Strip(' ', n, 0)]; returns n.</summary>
    private static int ReadSentencePieceDecoder(JsonElement root, char replacement)
    {
        const string Expected = "a SentencePiece-style tokenizer needs the decoder Sequence[Replace('▁' -> ' '), ByteFallback, Fuse, optional Strip(' ', n, 0)]";
        if (!root.TryGetProperty("decoder", out var decoder) || decoder.ValueKind == JsonValueKind.Null
            || decoder.GetProperty("type").GetString() != "Sequence")
        {
            string type = root.TryGetProperty("decoder", out var d) && d.ValueKind == JsonValueKind.Object ? d.GetProperty("type").GetString()! : "none";
            throw new NotSupportedException($"tokenizer.json decoder '{type}' is not supported: {Expected}.");
        }
        var steps = decoder.GetProperty("decoders").EnumerateArray().ToList();
        var types = steps.Select(s => s.GetProperty("type").GetString()).ToList();
        if (types.Count < 3 || types[0] != "Replace" || types[1] != "ByteFallback" || types[2] != "Fuse"
            || (types.Count == 4 && types[3] != "Strip") || types.Count > 4)
        {
            throw new NotSupportedException($"tokenizer.json decoder Sequence[{string.Join(", ", types)}] is not supported: {Expected}.");
        }
        if (!steps[0].GetProperty("pattern").TryGetProperty("String", out var from) || from.GetString() != replacement.ToString()
            || steps[0].GetProperty("content").GetString() != " ")
        {
            throw new NotSupportedException($"tokenizer.json decoder Replace is not '{replacement}' -> ' ': {Expected}.");
        }
        if (types.Count < 4)
        {
            return 0;
        }
        var strip = steps[3];
        if (strip.GetProperty("content").GetString() != " " || strip.GetProperty("stop").GetInt32() != 0)
        {
            throw new NotSupportedException($"tokenizer.json decoder Strip other than leading spaces is not supported: {Expected}.");
        }
        return strip.GetProperty("start").GetInt32();
    }

    private static bool ReadNormalizer(JsonElement root)
    {
        if (!root.TryGetProperty("normalizer", out var n) || n.ValueKind == JsonValueKind.Null)
        {
            return false;
        }
        string type = n.GetProperty("type").GetString()!;
        if (type == "NFC")
        {
            return true;
        }
        if (type == "Sequence" && n.GetProperty("normalizers").GetArrayLength() == 0)
        {
            return false;
        }
        throw new NotSupportedException($"tokenizer.json normalizer '{type}' is not supported (only NFC or none).");
    }

    /// <summary>The split regex; the ByteLevel step itself is BpeOptions.ByteLevel.</summary>
    private static string ReadPreTokenizer(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var p) || p.ValueKind == JsonValueKind.Null)
        {
            throw new NotSupportedException("tokenizer.json without a pre_tokenizer is not supported.");
        }
        var steps = p.GetProperty("type").GetString() == "Sequence"
            ? p.GetProperty("pretokenizers").EnumerateArray().ToList()
            : [p];
        string? pattern = null;
        bool byteLevel = false;
        foreach (var step in steps)
        {
            string type = step.GetProperty("type").GetString()!;
            switch (type)
            {
                case "Split" when pattern is null && !byteLevel:
                    if (!step.GetProperty("pattern").TryGetProperty("Regex", out var regex))
                    {
                        throw new NotSupportedException("pre_tokenizer Split with a String pattern is not supported (only Regex).");
                    }
                    string behavior = step.GetProperty("behavior").GetString()!;
                    if (behavior != "Isolated" || (step.TryGetProperty("invert", out var inv) && inv.GetBoolean()))
                    {
                        throw new NotSupportedException($"pre_tokenizer Split with behavior '{behavior}' or invert is not supported (only Isolated).");
                    }
                    pattern = regex.GetString()!;
                    break;
                case "ByteLevel" when !byteLevel:
                    if (step.TryGetProperty("add_prefix_space", out var aps) && aps.GetBoolean())
                    {
                        throw new NotSupportedException("pre_tokenizer ByteLevel with add_prefix_space = true is not supported.");
                    }
                    bool useRegex = !step.TryGetProperty("use_regex", out var ur) || ur.GetBoolean();
                    if (useRegex)
                    {
                        if (pattern is not null)
                        {
                            throw new NotSupportedException("pre_tokenizer Split followed by ByteLevel with use_regex = true is not supported.");
                        }
                        pattern = Gpt2Pattern;
                    }
                    byteLevel = true;
                    break;
                default:
                    throw new NotSupportedException(
                        $"pre_tokenizer component '{type}' (in this position) is not supported: HfTokenizer handles Split(Regex, Isolated) + ByteLevel.");
            }
        }
        if (!byteLevel || pattern is null)
        {
            throw new NotSupportedException("pre_tokenizer must be byte-level (a ByteLevel step) with a split regex.");
        }
        return pattern;
    }

    /// <summary>Tokens a TemplateProcessing post-processor puts around a single sequence.</summary>
    private static (List<int> Prefix, List<int> Suffix) ReadPostProcessor(JsonElement root)
    {
        var prefix = new List<int>();
        var suffix = new List<int>();
        if (!root.TryGetProperty("post_processor", out var p) || p.ValueKind == JsonValueKind.Null)
        {
            return (prefix, suffix);
        }
        var steps = p.GetProperty("type").GetString() == "Sequence"
            ? p.GetProperty("processors").EnumerateArray().ToList()
            : [p];
        foreach (var step in steps)
        {
            string type = step.GetProperty("type").GetString()!;
            if (type == "ByteLevel")
            {
                continue; // only adjusts offsets
            }
            if (type != "TemplateProcessing")
            {
                throw new NotSupportedException($"post_processor '{type}' is not supported (only ByteLevel and TemplateProcessing).");
            }
            var specials = step.GetProperty("special_tokens");
            bool seenSequence = false;
            foreach (var item in step.GetProperty("single").EnumerateArray())
            {
                if (item.TryGetProperty("Sequence", out _))
                {
                    seenSequence = true;
                    continue;
                }
                string name = item.GetProperty("SpecialToken").GetProperty("id").GetString()!;
                var ids = specials.GetProperty(name).GetProperty("ids").EnumerateArray().Select(e => e.GetInt32());
                (seenSequence ? suffix : prefix).AddRange(ids);
            }
        }
        return (prefix, suffix);
    }
}
