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
    public required string SplitPattern { get; init; }
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

        CheckModel(model, root);
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var entry in model.GetProperty("vocab").EnumerateObject())
        {
            vocab[entry.Name] = entry.Value.GetInt32();
        }
        var merges = new List<string>();
        foreach (var merge in model.GetProperty("merges").EnumerateArray())
        {
            // Older files write "a b", newer ones ["a", "b"]; byte-level tokens never contain a space.
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
            SplitPattern = ReadPreTokenizer(root),
            NormalizeNfc = ReadNormalizer(root),
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

    private static void CheckModel(JsonElement model, JsonElement root)
    {
        string type = model.TryGetProperty("type", out var t) ? t.GetString() ?? "?" : "?";
        if (type != "BPE")
        {
            throw new NotSupportedException(
                $"tokenizer.json model type '{type}' is not supported: HfTokenizer handles byte-level BPE (Qwen, Llama 3).");
        }
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
        {
            throw new NotSupportedException(
                "tokenizer.json model type 'BPE' with byte_fallback (SentencePiece-style BPE with '▁', as in Llama 2) " +
                "is not supported: HfTokenizer handles byte-level BPE (Qwen, Llama 3).");
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
        if (root.TryGetProperty("decoder", out var decoder) && decoder.ValueKind != JsonValueKind.Null)
        {
            string decoderType = decoder.GetProperty("type").GetString()!;
            if (decoderType != "ByteLevel")
            {
                throw new NotSupportedException(
                    $"tokenizer.json decoder '{decoderType}' is not supported: HfTokenizer handles the ByteLevel decoder.");
            }
        }
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
