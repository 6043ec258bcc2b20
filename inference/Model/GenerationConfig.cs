using System.Text.Json.Nodes;

namespace SpecEdge.Inference.Model;

/// <summary>Defaults from a model's <c>generation_config.json</c>: stop ids and suggested sampling settings.</summary>
public sealed record GenerationConfig(IReadOnlyList<int> EosTokenIds, double? Temperature, double? TopP, int? TopK, bool DoSample)
{
    public static readonly GenerationConfig Default = new(Array.Empty<int>(), null, null, null, false);

    /// <summary>Reads the file when present; eos ids fall back to config.json's.</summary>
    public static GenerationConfig Load(string path, ModelConfig config)
    {
        if (!File.Exists(path)) return Default with { EosTokenIds = config.EosTokenIds };
        var o = JsonNode.Parse(File.ReadAllText(path)) as JsonObject
            ?? throw new InvalidDataException($"{path} must hold a JSON object.");
        var eos = ModelConfig.ParseIds(o["eos_token_id"]);
        return new GenerationConfig(
            eos.Length > 0 ? eos : config.EosTokenIds,
            o["temperature"]?.GetValue<double>(),
            o["top_p"]?.GetValue<double>(),
            o["top_k"]?.GetValue<int>(),
            o["do_sample"]?.GetValue<bool>() ?? false);
    }
}
