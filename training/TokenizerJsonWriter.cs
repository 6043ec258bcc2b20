using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Writes a <see cref="ByteLevelBpeTokenizer"/> as Hugging Face files laid out like Qwen2/Qwen3's: <c>tokenizer.json</c>
/// (BPE model with vocab and list-of-pairs merges, Split(GPT-2 regex) + ByteLevel pre-tokenizer, ByteLevel decoder,
/// special tokens as added tokens) and <c>tokenizer_config.json</c> (eos/pad token and a ChatML chat template).
/// </summary>
public static class TokenizerJsonWriter
{
    /// <summary>ChatML without tools or thinking: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per turn.</summary>
    public const string ChatMlTemplate =
        "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,   // keep Ġ and the regex readable, as HF files are
    };

    public static void Write(ByteLevelBpeTokenizer tokenizer, string directory, string eosToken, int modelMaxLength)
    {
        if (!tokenizer.SpecialTokens.ContainsKey(eosToken))
            throw new ArgumentException($"eos token '{eosToken}' is not one of the special tokens ({string.Join(", ", tokenizer.SpecialTokens.Keys)}).");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "tokenizer.json"), TokenizerJson(tokenizer).ToJsonString(Indented));
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"),
            TokenizerConfigJson(tokenizer, eosToken, modelMaxLength).ToJsonString(Indented));
    }

    public static JsonObject TokenizerJson(ByteLevelBpeTokenizer tokenizer)
    {
        JsonObject ByteLevel() => new()
        {
            ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = false, ["use_regex"] = false,
        };
        var vocab = new JsonObject();
        int bpeCount = tokenizer.VocabSize - tokenizer.SpecialTokens.Count;
        for (int id = 0; id < bpeCount; id++) vocab[tokenizer.Tokens[id]] = id;
        var merges = new JsonArray(tokenizer.Merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray());
        var added = new JsonArray(tokenizer.SpecialTokens.OrderBy(kv => kv.Value).Select(kv => (JsonNode)new JsonObject
        {
            ["id"] = kv.Value, ["content"] = kv.Key, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
            ["normalized"] = false, ["special"] = true,
        }).ToArray());
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = Gpt2PreTokenizer.Pattern },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    ByteLevel()),
            },
            ["post_processor"] = ByteLevel(),
            ["decoder"] = ByteLevel(),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "",
                ["end_of_word_suffix"] = "", ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = false,
                ["vocab"] = vocab, ["merges"] = merges,
            },
        };
    }

    public static JsonObject TokenizerConfigJson(ByteLevelBpeTokenizer tokenizer, string eosToken, int modelMaxLength)
    {
        var decoder = new JsonObject();
        foreach (var (content, id) in tokenizer.SpecialTokens.OrderBy(kv => kv.Value))
            decoder[id.ToString()] = new JsonObject
            {
                ["content"] = content, ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false,
                ["single_word"] = false, ["special"] = true,
            };
        return new JsonObject
        {
            ["add_bos_token"] = false,
            ["add_prefix_space"] = false,
            ["added_tokens_decoder"] = decoder,
            ["additional_special_tokens"] = new JsonArray(tokenizer.SpecialTokens.Keys
                .Where(k => k != eosToken).Select(k => (JsonNode)k!).ToArray()),
            ["bos_token"] = null,
            ["chat_template"] = ChatMlTemplate,
            ["clean_up_tokenization_spaces"] = false,
            ["eos_token"] = eosToken,
            ["errors"] = "replace",
            ["model_max_length"] = modelMaxLength,
            ["pad_token"] = eosToken,
            ["split_special_tokens"] = false,
            ["tokenizer_class"] = "Qwen2Tokenizer",
            ["unk_token"] = null,
        };
    }
}
