using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Weights;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecEdge.Inference.Model;

/// <summary>
/// An early exit of a target model: a norm and an LM head that read the residual stream after the first
/// <see cref="Layer"/> layers and guess the final layer's next token (trained by distillation from the final logits, the
/// target frozen). Stored beside the checkpoint as <c>early_exit.safetensors</c> (tensors <c>early_exit.norm.weight</c>
/// [d] and <c>early_exit.lm_head.weight</c> [vocab, d]) plus <c>early_exit.json</c> (the layer and how it was trained),
/// so the Hugging Face files stay as they are and any loader that does not know exits ignores them.
/// </summary>
public sealed class EarlyExitHead : IDisposable
{
    public const string WeightsFile = "early_exit.safetensors";
    public const string DescriptionFile = "early_exit.json";

    public int Layer { get; }
    /// <summary>[d]: RMSNorm weight applied to the residual stream at the exit.</summary>
    public Tensor Norm { get; }
    /// <summary>[vocab, d].</summary>
    public Tensor LmHead { get; }
    public double RmsNormEps { get; }

    /// <summary>
    /// Token ids the head scores besides each batch's tree tokens (the corpus's most frequent, ascending), or null to
    /// score the whole vocabulary. An early verdict is a bet, so its head need not score every token: its top token is
    /// then the best candidate, and where the full head's lies outside the candidates the bet may accept a child the full
    /// head would not or name another bonus. Only the bet is lost, never an output token. The projection then costs
    /// |candidates| / vocabulary of the full head.
    /// </summary>
    public int[]? Shortlist { get; set; }

    public EarlyExitHead(int layer, Tensor norm, Tensor lmHead, double rmsNormEps)
    {
        if (norm.dim() != 1 || lmHead.dim() != 2 || lmHead.shape[1] != norm.shape[0])
            throw new ArgumentException($"An exit head needs a norm [d] and an LM head [vocab, d]; got [{string.Join(", ", norm.shape)}] and [{string.Join(", ", lmHead.shape)}].");
        Layer = layer; Norm = norm; LmHead = lmHead; RmsNormEps = rmsNormEps;
    }

    /// <summary>
    /// The ids a forward's exit scores: the shortlist and <paramref name="treeTokens"/>, ascending; null when the head
    /// scores the whole vocabulary.
    /// </summary>
    public long[]? Candidates(IEnumerable<int> treeTokens) =>
        Shortlist is null ? null : Shortlist.Concat(treeTokens).Distinct().Order().Select(t => (long)t).ToArray();

    /// <summary>Logits [.., |candidates|] (fp32) of <paramref name="candidates"/> only (all tokens when null).</summary>
    public Tensor Logits(Tensor exitHidden, long[]? candidates)
    {
        if (candidates is null) return Logits(exitHidden);
        using var ids = tensor(candidates, device: LmHead.device);
        using var rows = LmHead.index_select(0, ids);
        return F.linear(RmsNorm.Apply(exitHidden.to(Norm.dtype), Norm, RmsNormEps), rows);
    }

    /// <summary>
    /// The "logit lens" start: the target's own final norm and LM head read at layer <paramref name="layer"/>, as
    /// trainable fp32 copies. Untrained, it is the baseline a trained head must beat.
    /// </summary>
    public static EarlyExitHead FromFinalLayer(CausalLm target, int layer, bool requiresGrad = false)
    {
        CheckLayer(target.Config, layer);
        Tensor Copy(Tensor t)
        {
            var copy = t.detach().to(ScalarType.Float32).clone();
            return requiresGrad ? new TorchSharp.Modules.Parameter(copy, true) : copy;
        }
        return new EarlyExitHead(layer, Copy(target.Weights.norm), Copy(target.Weights.lm_head), target.Config.RmsNormEps);
    }

    /// <summary>
    /// A copy of this head (own tensors, fp32) whose weights went through <paramref name="dtype"/>: the head as a file in
    /// that dtype will hold it, to measure what is stored.
    /// </summary>
    public EarlyExitHead RoundedTo(ScalarType dtype) =>
        new(Layer, Norm.detach().to(dtype).to(ScalarType.Float32), LmHead.detach().to(dtype).to(ScalarType.Float32), RmsNormEps) { Shortlist = Shortlist };

    /// <summary>Logits [.., vocab] (fp32) from the residual stream at the exit [.., d].</summary>
    public Tensor Logits(Tensor exitHidden) =>
        F.linear(RmsNorm.Apply(exitHidden.to(Norm.dtype), Norm, RmsNormEps), LmHead);

    /// <summary>
    /// Writes the two files into <paramref name="directory"/> (the target's own, by default), in <paramref name="dtype"/>
    /// (the checkpoint's, so the head costs what its layer of the model costs), with <paramref name="description"/>
    /// merged into the JSON.
    /// </summary>
    public void Save(string directory, JsonObject? description = null, ScalarType dtype = ScalarType.Float32)
    {
        Directory.CreateDirectory(directory);
        SafeTensorsWriter.Write(Path.Combine(directory, WeightsFile), new Dictionary<string, Tensor>
        {
            ["early_exit.norm.weight"] = Norm.detach().to(dtype).contiguous(),
            ["early_exit.lm_head.weight"] = LmHead.detach().to(dtype).contiguous(),
        }, new Dictionary<string, string> { ["format"] = "pt" });
        var json = description?.DeepClone().AsObject() ?? new JsonObject();
        json["layer"] = Layer;
        json["hidden_size"] = Norm.shape[0];
        json["vocab_size"] = LmHead.shape[0];
        if (Shortlist is not null) json["shortlist"] = new JsonArray(Shortlist.Select(t => (JsonNode)t).ToArray());
        File.WriteAllText(Path.Combine(directory, DescriptionFile), json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>
    /// The exit head stored in <paramref name="directory"/> for <paramref name="config"/>, or null when there is none.
    /// A head that does not fit the model (layer, width, vocabulary) or a damaged file fails with a message naming it.
    /// </summary>
    public static EarlyExitHead? Load(string directory, ModelConfig config, ScalarType dtype, Device device)
    {
        string jsonPath = Path.Combine(directory, DescriptionFile), weightsPath = Path.Combine(directory, WeightsFile);
        if (!File.Exists(jsonPath) && !File.Exists(weightsPath)) return null;
        if (!File.Exists(jsonPath)) throw new InvalidDataException($"{weightsPath} has no {DescriptionFile} beside it (which layer does it read?).");
        JsonObject json;
        try { json = JsonNode.Parse(File.ReadAllText(jsonPath)) as JsonObject ?? throw new InvalidDataException($"{jsonPath} is not a JSON object."); }
        catch (JsonException e) { throw new InvalidDataException($"{jsonPath} is not valid JSON: {e.Message}", e); }
        int layer = json["layer"] is JsonValue v && v.TryGetValue<int>(out int l) ? l : throw new InvalidDataException($"{jsonPath}: 'layer' is missing or not an integer.");
        try { CheckLayer(config, layer); }
        catch (ArgumentOutOfRangeException e) { throw new InvalidDataException($"{jsonPath}: {e.Message}", e); }
        using var file = SafeTensorsFile.Open(weightsPath);
        Tensor Read(string name, long[] shape)
        {
            if (!file.Tensors.TryGetValue(name, out var info)) throw new InvalidDataException($"{weightsPath}: no tensor '{name}'.");
            if (!info.Shape.SequenceEqual(shape))
                throw new InvalidDataException($"{weightsPath}: '{name}' is [{string.Join(", ", info.Shape)}], the model needs [{string.Join(", ", shape)}].");
            using var stored = file.Read(name);
            return stored.to(dtype, device).clone();
        }
        int[]? shortlist = null;
        if (json["shortlist"] is JsonArray list)
        {
            try { shortlist = list.Select(n => n!.GetValue<int>()).ToArray(); }
            catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
            { throw new InvalidDataException($"{jsonPath}: 'shortlist' must be an array of token ids.", e); }
            if (shortlist.Any(t => t < 0 || t >= config.VocabSize))
                throw new InvalidDataException($"{jsonPath}: 'shortlist' holds ids outside the vocabulary [0, {config.VocabSize}).");
        }
        return new EarlyExitHead(layer, Read("early_exit.norm.weight", [config.HiddenSize]),
            Read("early_exit.lm_head.weight", [config.VocabSize, config.HiddenSize]), config.RmsNormEps) { Shortlist = shortlist };
    }

    private static void CheckLayer(ModelConfig config, int layer)
    {
        if (layer < 1 || layer >= config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"An early exit sits after layer 1 to {config.NumHiddenLayers - 1} of a {config.NumHiddenLayers}-layer model.");
    }

    public void Dispose()
    {
        Norm.Dispose();
        LmHead.Dispose();
    }
}
