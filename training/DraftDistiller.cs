using System.Diagnostics;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Tokenization;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Knowledge distillation of a draft model from any Hugging Face target directory the loader reads: the draft learns
/// the target's next-token distribution (KL divergence at a temperature, mixed with a little hard-label cross-entropy)
/// on the Brown training split, encoded with the target's own tokenizer, for a wall-clock time box. What speculative
/// decoding rewards is agreement with the target, not with the corpus, so the soft targets are the target's logits.
/// When the draft has the target's width, it starts from the target's embeddings, final norm and a subset of its layers
/// (evenly spaced, the first always kept) rather than from noise; the time box then goes to closing the gap the
/// dropped layers leave. The draft directory gets the target's tokenizer and generation files unchanged.
/// </summary>
public static class DraftDistiller
{
    public sealed record Options
    {
        public required string TargetDirectory { get; init; }
        public required string OutputDirectory { get; init; }
        public required string CorpusDirectory { get; init; }
        public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(6);
        public long Seed { get; init; } = 1;
        /// <summary>Draft shape; null takes the target's value (layers: 1).</summary>
        public int? HiddenSize { get; init; }
        public int Layers { get; init; } = 1;
        public int? IntermediateSize { get; init; }
        public int? Heads { get; init; }
        public int? KeyValueHeads { get; init; }
        /// <summary>Softmax temperature of both distributions in the KL term (its gradient is rescaled by T^2).</summary>
        public double Temperature { get; init; } = 1.0;
        /// <summary>Weight of the KL term; the rest (1 - weight) goes to cross-entropy against the corpus tokens.</summary>
        public double KlWeight { get; init; } = 0.9;
        public double PeakLearningRate { get; init; } = 1.5e-3;
        /// <summary>Short: a draft started from the target's weights needs little warmup, and a busy machine gives few steps.</summary>
        public int WarmupSteps { get; init; } = 20;
        public int Context { get; init; } = 128;
        public int BatchSize { get; init; } = 16;
        /// <summary>Another draft of the same target to measure side by side on the held-out text (e.g. the previous one).</summary>
        public string? CompareDirectory { get; init; }
    }

    /// <summary>What a run did, written as <c>distill-report.json</c> beside the draft directory.</summary>
    public sealed record Report(
        string Target, string Draft, long TargetParameters, long DraftParameters, bool InitialisedFromTarget, int[] TargetLayersCopied,
        int TrainTokens, int HeldOutTokens, int Steps, double TrainSeconds, double TokensPerSecond, double LastLoss,
        double Top1Agreement, double? CompareTop1Agreement, string? Compare, long DraftDirectoryBytes, double TotalSeconds,
        string LoadAverageBefore, string LoadAverageAfter);

    public static Report Run(Options o, Action<string> log)
    {
        var total = Stopwatch.StartNew();
        string loadBefore = LoadAverage();
        var tokenizer = HfTokenizer.Load(o.TargetDirectory);
        using var target = CausalLm.Load(o.TargetDirectory, "float32");
        int eos = target.Config.EosTokenIds.Count > 0 ? target.Config.EosTokenIds[0]
            : tokenizer.EosTokenIds.Count > 0 ? tokenizer.EosTokenIds[0]
            : throw new InvalidDataException($"{o.TargetDirectory} names no end-of-sequence token (config.json eos_token_id).");
        var (train, heldOut) = BrownCorpus.Split(BrownCorpus.Load(o.CorpusDirectory));
        int[] trainIds = Encode(tokenizer, train, eos), heldOutIds = Encode(tokenizer, heldOut, eos);
        log($"Corpus (target's tokenizer): {trainIds.Length:N0} training tokens, {heldOutIds.Length:N0} held out");

        var config = DraftConfig(target.Config, o);
        var (weights, copied) = InitialWeights(target, config, o.Seed);
        using var draft = new CausalLm(config, weights, ScalarType.Float32, CPU);
        log($"Draft: hidden {config.HiddenSize}, {config.NumHiddenLayers} layer(s), MLP {config.IntermediateSize}, " +
            $"{DemoPairRecipe.Parameters(draft):N0} parameters; " +
            (copied.Length > 0 ? $"initialised from the target (layers {string.Join(",", copied)})" : "random initialisation") +
            $"; KL weight {o.KlWeight} at T={o.Temperature}, {o.Duration.TotalMinutes:F1} min, peak lr {o.PeakLearningRate}");

        var training = LanguageModelTrainer.Train(draft, trainIds, new TrainingOptions
        {
            Duration = o.Duration, Context = o.Context, BatchSize = o.BatchSize, PeakLearningRate = o.PeakLearningRate, Seed = o.Seed,
            WarmupSteps = o.WarmupSteps,
        }, log, DistillationLoss(target, o.Temperature, o.KlWeight));
        log($"Trained: {training.Steps} steps, {training.TokensPerSecond:N0} tok/s, last-50-step loss {training.MeanLastLoss(50):F3}");

        double agreement = LanguageModelEvaluator.Top1Agreement(draft, target, heldOutIds, o.Context, o.BatchSize, maxWindows: 256);
        double? compare = null;
        if (o.CompareDirectory is { } other)
        {
            using var old = CausalLm.Load(other, "float32");
            compare = LanguageModelEvaluator.Top1Agreement(old, target, heldOutIds, o.Context, o.BatchSize, maxWindows: 256);
        }
        log($"Held out: draft top-1 = target top-1 on {agreement:P1} of positions" + (compare is double c ? $" ({o.CompareDirectory}: {c:P1})" : ""));

        DemoPairRecipe.SaveBf16(draft, o.OutputDirectory);
        foreach (var file in new[] { "tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "tokenizer.model" })
        {
            string from = Path.Combine(o.TargetDirectory, file);
            if (File.Exists(from)) File.Copy(from, Path.Combine(o.OutputDirectory, file), overwrite: true);
        }
        var report = new Report(Path.GetFullPath(o.TargetDirectory), Path.GetFullPath(o.OutputDirectory), DemoPairRecipe.Parameters(target),
            DemoPairRecipe.Parameters(draft), copied.Length > 0, copied, trainIds.Length, heldOutIds.Length, training.Steps,
            training.Elapsed.TotalSeconds, training.TokensPerSecond, training.MeanLastLoss(50), agreement, compare, o.CompareDirectory,
            new DirectoryInfo(o.OutputDirectory).EnumerateFiles().Sum(f => f.Length), total.Elapsed.TotalSeconds, loadBefore, LoadAverage());
        return report;
    }

    public static void WriteReport(Report report, string path) =>
        File.WriteAllText(path, JsonSerializer.Serialize(report,
            new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));

    /// <summary>
    /// <c>w * T^2 * KL(p_target^T || p_draft^T) + (1 - w) * CE(draft, corpus)</c>, averaged over positions. The target runs
    /// without gradients on the same input window.
    /// </summary>
    public static LanguageModelTrainer.BatchLoss DistillationLoss(CausalLm target, double temperature, double klWeight)
    {
        if (!(temperature > 0)) throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "Temperature must be > 0.");
        if (klWeight is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(klWeight), klWeight, "KL weight must be in [0, 1].");
        return (input, logits, labels) =>
        {
            long vocab = logits.shape[2];
            var student = logits.reshape(-1, vocab).to(ScalarType.Float32);                 // [N, V]
            Tensor teacherLogProbs;
            using (no_grad())
                teacherLogProbs = target.ForwardFull(input).reshape(-1, vocab).to(ScalarType.Float32).Over(temperature).log_softmax(-1);
            var studentLogProbs = student.Over(temperature).log_softmax(-1);
            var kl = (teacherLogProbs.exp() * (teacherLogProbs - studentLogProbs)).sum(-1).mean().Times(temperature * temperature);
            if (klWeight >= 1) return kl;
            return kl.Times(klWeight).Plus(F.cross_entropy(student, labels.reshape(-1)).Times(1 - klWeight));
        };
    }

    public static ModelConfig DraftConfig(ModelConfig target, Options o)
    {
        int hidden = o.HiddenSize ?? target.HiddenSize;
        int heads = o.Heads ?? (hidden == target.HiddenSize ? target.NumAttentionHeads : Math.Max(1, hidden / target.HeadDim));
        int kvHeads = o.KeyValueHeads ?? (hidden == target.HiddenSize ? target.NumKeyValueHeads : Math.Max(1, heads / Math.Max(1, target.QueryGroups)));
        if (o.Layers < 1) throw new ArgumentOutOfRangeException(nameof(o.Layers), o.Layers, "A draft needs at least one layer.");
        if (heads % kvHeads != 0) throw new ArgumentException($"Draft heads ({heads}) must be a multiple of its key/value heads ({kvHeads}).");
        return target with
        {
            HiddenSize = hidden, NumHiddenLayers = o.Layers, IntermediateSize = o.IntermediateSize ?? target.IntermediateSize * hidden / target.HiddenSize,
            NumAttentionHeads = heads, NumKeyValueHeads = kvHeads, TieWordEmbeddings = true, TorchDtype = "float32",
        };
    }

    /// <summary>
    /// Trainable fp32 weights: copies of the target's where the shapes allow (same width and head layout), random
    /// otherwise. Returns the target layers copied, in draft layer order.
    /// </summary>
    public static (ModelWeights Weights, int[] Copied) InitialWeights(CausalLm target, ModelConfig draft, long seed)
    {
        var t = target.Config;
        bool sameShape = draft.HiddenSize == t.HiddenSize && draft.IntermediateSize == t.IntermediateSize && draft.HeadDim == t.HeadDim
            && draft.NumAttentionHeads == t.NumAttentionHeads && draft.NumKeyValueHeads == t.NumKeyValueHeads && draft.NumHiddenLayers <= t.NumHiddenLayers;
        if (!sameShape) return (ModelWeights.Random(draft, seed, ScalarType.Float32, requiresGrad: true), Array.Empty<int>());
        int[] copied = Enumerable.Range(0, draft.NumHiddenLayers)
            .Select(i => draft.NumHiddenLayers == 1 ? 0 : (int)Math.Round(i * (t.NumHiddenLayers - 1) / (double)(draft.NumHiddenLayers - 1)))
            .ToArray();
        var byName = target.Weights.Named().ToDictionary(kv => kv.Key, kv => kv.Value);
        var weights = ModelWeights.Create(draft, (name, shape) =>
        {
            string source = name;
            if (name.StartsWith("model.layers.", StringComparison.Ordinal))
            {
                int dot = name.IndexOf('.', "model.layers.".Length);
                int layer = int.Parse(name["model.layers.".Length..dot]);
                source = $"model.layers.{copied[layer]}{name[dot..]}";
            }
            if (!byName.TryGetValue(source, out var from) || !from.shape.SequenceEqual(shape))
                throw new InvalidDataException($"Target has no tensor {source} of shape [{string.Join(", ", shape)}] to start the draft from.");
            return new TorchSharp.Modules.Parameter(from.detach().to(ScalarType.Float32).clone(), true);
        });
        return (weights, copied);
    }

    private static int[] Encode(HfTokenizer tokenizer, IEnumerable<BrownCorpus.Document> documents, int eos)
    {
        var ids = new List<int>();
        foreach (var d in documents) { ids.AddRange(tokenizer.Encode(d.Text, parseSpecialTokens: false)); ids.Add(eos); }
        return ids.ToArray();
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
}
