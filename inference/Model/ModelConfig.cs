using System.Text.Json;
using System.Text.Json.Nodes;

namespace SpecEdge.Inference.Model;

/// <summary>Llama-3 style RoPE frequency scaling (config.json <c>rope_scaling</c>).</summary>
public sealed record RopeScaling(string Type, double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);

/// <summary>
/// The architecture of a decoder-only Llama-family model as written in a Hugging Face <c>config.json</c>.
/// Covers <c>model_type</c> <c>llama</c> (Llama 2/3, Vicuna, TinyLlama) and <c>qwen3</c> (per-head q/k RMSNorm).
/// </summary>
public sealed record ModelConfig
{
    public required string ModelType { get; init; }
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    public required int IntermediateSize { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public double RmsNormEps { get; init; } = 1e-6;
    public double RopeTheta { get; init; } = 10000.0;
    public RopeScaling? RopeScaling { get; init; }
    public int MaxPositionEmbeddings { get; init; } = 4096;
    public bool TieWordEmbeddings { get; init; }
    public bool AttentionBias { get; init; }
    public string TorchDtype { get; init; } = "float32";
    public IReadOnlyList<int> EosTokenIds { get; init; } = Array.Empty<int>();
    public int? BosTokenId { get; init; }
    public string HiddenAct { get; init; } = "silu";

    /// <summary>Qwen3 normalises queries and keys per head before RoPE; Llama does not.</summary>
    public bool HasQkNorm => ModelType == "qwen3";

    /// <summary>Query heads served by one key/value head (grouped-query attention).</summary>
    public int QueryGroups => NumAttentionHeads / NumKeyValueHeads;

    public static readonly IReadOnlySet<string> SupportedModelTypes = new HashSet<string> { "llama", "qwen3" };

    /// <summary>Reads and validates <paramref name="path"/> (a config.json file).</summary>
    public static ModelConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Model config not found: {path}", path);
        JsonNode? root;
        try { root = JsonNode.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path} is not valid JSON: {e.Message}", e); }
        if (root is not JsonObject obj) throw new InvalidDataException($"{path} must hold a JSON object.");
        return FromJson(obj, path);
    }

    public static ModelConfig FromJson(JsonObject obj, string source = "config.json")
    {
        string modelType = obj["model_type"]?.GetValue<string>()
            ?? throw new InvalidDataException($"{source}: missing 'model_type'.");
        if (!SupportedModelTypes.Contains(modelType))
            throw new NotSupportedException(
                $"{source}: unknown model_type '{modelType}'; supported: {string.Join(", ", SupportedModelTypes)}.");

        int Req(string key) => obj[key] is JsonValue v ? v.GetValue<int>()
            : throw new InvalidDataException($"{source}: missing required integer '{key}'.");

        int hidden = Req("hidden_size");
        int heads = Req("num_attention_heads");
        int kvHeads = obj["num_key_value_heads"] is JsonValue kv ? kv.GetValue<int>() : heads;
        int headDim = obj["head_dim"] is JsonValue hd ? hd.GetValue<int>() : hidden / heads;

        var config = new ModelConfig
        {
            ModelType = modelType,
            VocabSize = Req("vocab_size"),
            HiddenSize = hidden,
            IntermediateSize = Req("intermediate_size"),
            NumHiddenLayers = Req("num_hidden_layers"),
            NumAttentionHeads = heads,
            NumKeyValueHeads = kvHeads,
            HeadDim = headDim,
            RmsNormEps = obj["rms_norm_eps"]?.GetValue<double>() ?? 1e-6,
            RopeTheta = obj["rope_theta"]?.GetValue<double>() ?? 10000.0,
            RopeScaling = ParseRopeScaling(obj["rope_scaling"], source),
            MaxPositionEmbeddings = obj["max_position_embeddings"]?.GetValue<int>() ?? 4096,
            TieWordEmbeddings = obj["tie_word_embeddings"]?.GetValue<bool>() ?? false,
            AttentionBias = obj["attention_bias"]?.GetValue<bool>() ?? false,
            TorchDtype = obj["torch_dtype"]?.GetValue<string>() ?? obj["dtype"]?.GetValue<string>() ?? "float32",
            EosTokenIds = ParseIds(obj["eos_token_id"]),
            BosTokenId = obj["bos_token_id"] is JsonValue b ? b.GetValue<int>() : null,
            HiddenAct = obj["hidden_act"]?.GetValue<string>() ?? "silu",
        };
        config.Validate(source);
        return config;
    }

    private void Validate(string source)
    {
        void Check(bool ok, string message) { if (!ok) throw new InvalidDataException($"{source}: {message}"); }
        Check(VocabSize > 0 && HiddenSize > 0 && IntermediateSize > 0 && NumHiddenLayers > 0, "sizes must be positive.");
        Check(NumAttentionHeads > 0 && NumKeyValueHeads > 0, "head counts must be positive.");
        Check(NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads}).");
        Check(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be positive and even for rotary embeddings.");
        Check(HiddenAct == "silu", $"hidden_act '{HiddenAct}' is not supported (only silu).");
    }

    private static RopeScaling? ParseRopeScaling(JsonNode? node, string source)
    {
        if (node is not JsonObject o) return null;
        string type = o["rope_type"]?.GetValue<string>() ?? o["type"]?.GetValue<string>() ?? "default";
        if (type == "default") return null;
        if (type != "llama3" && type != "linear")
            throw new NotSupportedException($"{source}: rope_scaling type '{type}' is not supported (llama3, linear).");
        return new RopeScaling(
            type,
            o["factor"]?.GetValue<double>() ?? throw new InvalidDataException($"{source}: rope_scaling needs 'factor'."),
            o["low_freq_factor"]?.GetValue<double>() ?? 1.0,
            o["high_freq_factor"]?.GetValue<double>() ?? 4.0,
            o["original_max_position_embeddings"]?.GetValue<int>() ?? 8192);
    }

    internal static int[] ParseIds(JsonNode? node) => node switch
    {
        JsonArray a => a.Select(x => x!.GetValue<int>()).ToArray(),
        JsonValue v => new[] { v.GetValue<int>() },
        _ => Array.Empty<int>(),
    };

    /// <summary>Writes the config in Hugging Face's format (used by tests and the demo-model trainer).</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject
        {
            ["architectures"] = new JsonArray(ModelType == "qwen3" ? "Qwen3ForCausalLM" : "LlamaForCausalLM"),
            ["model_type"] = ModelType,
            ["vocab_size"] = VocabSize,
            ["hidden_size"] = HiddenSize,
            ["intermediate_size"] = IntermediateSize,
            ["num_hidden_layers"] = NumHiddenLayers,
            ["num_attention_heads"] = NumAttentionHeads,
            ["num_key_value_heads"] = NumKeyValueHeads,
            ["head_dim"] = HeadDim,
            ["rms_norm_eps"] = RmsNormEps,
            ["rope_theta"] = RopeTheta,
            ["max_position_embeddings"] = MaxPositionEmbeddings,
            ["tie_word_embeddings"] = TieWordEmbeddings,
            ["attention_bias"] = AttentionBias,
            ["torch_dtype"] = TorchDtype,
            ["hidden_act"] = HiddenAct,
        };
        if (EosTokenIds.Count == 1) o["eos_token_id"] = EosTokenIds[0];
        else if (EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (BosTokenId is int bos) o["bos_token_id"] = bos;
        if (RopeScaling is { } rs)
            o["rope_scaling"] = new JsonObject
            {
                ["rope_type"] = rs.Type, ["factor"] = rs.Factor, ["low_freq_factor"] = rs.LowFreqFactor,
                ["high_freq_factor"] = rs.HighFreqFactor, ["original_max_position_embeddings"] = rs.OriginalMaxPositionEmbeddings,
            };
        return o;
    }
}
