using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Produces the demo target/draft pair: the Brown corpus split 90/10 by document, a 2,048-token byte-level BPE trained
/// on the training part, a ~3.6M-parameter Qwen3-style target and a ~0.66M-parameter draft trained from scratch in
/// fp32 for a fixed wall-clock time each, then held-out bits/byte, draft-vs-target top-1 agreement, and both written
/// in bf16 as Hugging Face directories sharing the tokenizer files.
/// </summary>
public static class DemoPairRecipe
{
    public const string EndOfText = "<|endoftext|>";
    public static readonly IReadOnlyList<string> SpecialTokens = new[] { EndOfText, "<|im_start|>", "<|im_end|>" };

    public sealed record Options
    {
        public required string CorpusDirectory { get; init; }
        public required string OutputDirectory { get; init; }
        public TimeSpan TargetTime { get; init; } = TimeSpan.FromMinutes(13);
        public TimeSpan DraftTime { get; init; } = TimeSpan.FromMinutes(3);
        public long Seed { get; init; } = 1;
        public int VocabSize { get; init; } = 2048;
        public int Context { get; init; } = 128;
        public int BatchSize { get; init; } = 16;
    }

    /// <summary>Measured outcome of a run; also written to <c>train-report.json</c> next to the two model folders.</summary>
    public sealed record Report(
        double TokenizerSeconds, double TargetSeconds, double DraftSeconds, double TotalSeconds,
        long TrainBytes, long HeldOutBytes, int TrainTokens, int HeldOutTokens,
        long TargetParameters, long DraftParameters, int TargetSteps, int DraftSteps,
        double TargetTokensPerSecond, double DraftTokensPerSecond,
        double TargetBitsPerByte, double DraftBitsPerByte, double Top1Agreement,
        long TargetDirectoryBytes, long DraftDirectoryBytes, string TargetSample, string DraftSample);

    public static ModelConfig TargetConfig(int vocabSize, int eosId) => new()
    {
        ModelType = "qwen3", VocabSize = vocabSize, HiddenSize = 256, IntermediateSize = 768, NumHiddenLayers = 4,
        NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 64, RopeTheta = 10000, MaxPositionEmbeddings = 2048,
        TieWordEmbeddings = true, EosTokenIds = new[] { eosId },
    };

    public static ModelConfig DraftConfig(int vocabSize, int eosId) => new()
    {
        ModelType = "qwen3", VocabSize = vocabSize, HiddenSize = 128, IntermediateSize = 384, NumHiddenLayers = 2,
        NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 64, RopeTheta = 10000, MaxPositionEmbeddings = 2048,
        TieWordEmbeddings = true, EosTokenIds = new[] { eosId },
    };

    public static Report Run(Options o, Action<string> log)
    {
        var total = Stopwatch.StartNew();
        var (train, heldOut) = BrownCorpus.Split(BrownCorpus.Load(o.CorpusDirectory));
        long trainBytes = train.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d.Text));
        long heldOutBytes = heldOut.Sum(d => (long)System.Text.Encoding.UTF8.GetByteCount(d.Text));
        log($"Corpus: {train.Count} training documents ({trainBytes / 1e6:F2} MB), {heldOut.Count} held out ({heldOutBytes / 1e6:F2} MB)");

        var clock = Stopwatch.StartNew();
        var tokenizer = ByteLevelBpeTrainer.Train(train.Select(d => d.Text), o.VocabSize, SpecialTokens, log);
        int eos = tokenizer.SpecialTokens[EndOfText];
        int[] trainIds = Encode(tokenizer, train, eos), heldOutIds = Encode(tokenizer, heldOut, eos);
        double tokenizerSeconds = clock.Elapsed.TotalSeconds;
        log($"Tokenizer: {tokenizer.VocabSize} tokens in {tokenizerSeconds:F1} s; {trainIds.Length:N0} training tokens " +
            $"({(double)trainBytes / trainIds.Length:F2} bytes/token), {heldOutIds.Length:N0} held out");

        var results = new List<(CausalLm Model, TrainingReport Training)>();
        try
        {
            foreach (var (name, config, time, lr) in new[]
            {
                ("target", TargetConfig(tokenizer.VocabSize, eos), o.TargetTime, 3e-3),
                ("draft", DraftConfig(tokenizer.VocabSize, eos), o.DraftTime, 3e-3),
            })
            {
                var weights = ModelWeights.Random(config, o.Seed, ScalarType.Float32, requiresGrad: true);
                var model = new CausalLm(config, weights, ScalarType.Float32, CPU);
                log($"Training {name}: {Parameters(model):N0} parameters, {time.TotalMinutes:F1} min, batch {o.BatchSize} x {o.Context} tokens, peak lr {lr}");
                var training = LanguageModelTrainer.Train(model, trainIds, new TrainingOptions
                {
                    Duration = time, Context = o.Context, BatchSize = o.BatchSize, PeakLearningRate = lr, Seed = o.Seed,
                }, log);
                results.Add((model, training));
                log($"Trained {name}: {training.Steps} steps, {training.TokensPerSecond:N0} tok/s, last-50-step loss {training.MeanLastLoss(50):F3}");
            }
            var (target, targetTraining) = results[0];
            var (draft, draftTraining) = results[1];

            double targetBpb = LanguageModelEvaluator.BitsPerByte(target, heldOutIds, tokenizer, o.Context, o.BatchSize);
            double draftBpb = LanguageModelEvaluator.BitsPerByte(draft, heldOutIds, tokenizer, o.Context, o.BatchSize);
            double agreement = LanguageModelEvaluator.Top1Agreement(draft, target, heldOutIds, o.Context, o.BatchSize, maxWindows: 256);
            log($"Held out: target {targetBpb:F3} bits/byte, draft {draftBpb:F3} bits/byte; draft top-1 = target top-1 on {agreement:P1} of positions");

            string targetDir = Path.Combine(o.OutputDirectory, "target"), draftDir = Path.Combine(o.OutputDirectory, "draft");
            foreach (var (model, dir) in new[] { (target, targetDir), (draft, draftDir) })
            {
                SaveBf16(model, dir);
                TokenizerJsonWriter.Write(tokenizer, dir, EndOfText, model.Config.MaxPositionEmbeddings);
                WriteGenerationConfig(dir, eos);
            }
            string prompt = "The jury said";
            string targetSample = prompt + Sample(target, tokenizer, prompt, 40, o.Seed);
            string draftSample = prompt + Sample(draft, tokenizer, prompt, 40, o.Seed);
            log($"Sample (target, T=0.8): {targetSample}");
            log($"Sample (draft,  T=0.8): {draftSample}");

            var report = new Report(tokenizerSeconds, targetTraining.Elapsed.TotalSeconds, draftTraining.Elapsed.TotalSeconds,
                total.Elapsed.TotalSeconds, trainBytes, heldOutBytes, trainIds.Length, heldOutIds.Length,
                Parameters(target), Parameters(draft), targetTraining.Steps, draftTraining.Steps,
                targetTraining.TokensPerSecond, draftTraining.TokensPerSecond, targetBpb, draftBpb, agreement,
                DirectoryBytes(targetDir), DirectoryBytes(draftDir), targetSample, draftSample);
            File.WriteAllText(Path.Combine(o.OutputDirectory, "train-report.json"),
                JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
            return report;
        }
        finally
        {
            foreach (var (model, _) in results) model.Dispose();
        }
    }

    /// <summary>Documents' token ids concatenated, each followed by the end-of-text token.</summary>
    public static int[] Encode(ByteLevelBpeTokenizer tokenizer, IEnumerable<BrownCorpus.Document> documents, int eos)
    {
        var ids = new List<int>();
        foreach (var d in documents) { ids.AddRange(tokenizer.Encode(d.Text)); ids.Add(eos); }
        return ids.ToArray();
    }

    public static long Parameters(CausalLm model) => model.Weights.All.Sum(t => t.numel());

    /// <summary>Writes <paramref name="model"/> with its weights converted to bf16 (config torch_dtype bfloat16).</summary>
    public static void SaveBf16(CausalLm model, string directory)
    {
        var byName = model.Weights.Named().ToDictionary(kv => kv.Key, kv => kv.Value);
        var weights = ModelWeights.Create(model.Config, (name, _) => byName[name].detach().to(ScalarType.BFloat16));
        using var copy = new CausalLm(model.Config, weights, ScalarType.BFloat16, CPU);
        copy.Save(directory);
    }

    private static void WriteGenerationConfig(string directory, int eos) =>
        File.WriteAllText(Path.Combine(directory, "generation_config.json"), new JsonObject
        {
            ["eos_token_id"] = eos, ["pad_token_id"] = eos, ["do_sample"] = true, ["temperature"] = 0.8, ["top_p"] = 0.95,
        }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>A short sampled continuation (temperature 0.8, full recompute per token: only for a glance at the text).</summary>
    private static string Sample(CausalLm model, ByteLevelBpeTokenizer tokenizer, string prompt, int count, long seed)
    {
        var ids = tokenizer.Encode(prompt).Select(i => (long)i).ToList();
        var generator = new Generator((ulong)seed);
        var produced = new List<int>();
        using var noGrad = no_grad();
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            var logits = model.ForwardFull(tensor(ids.ToArray(), new long[] { 1, ids.Count }))[0, -1].to(ScalarType.Float32);
            int next = (int)multinomial(nn.functional.softmax(logits / 0.8, 0), 1, generator: generator).item<long>();
            if (tokenizer.IsSpecial(next)) break;
            produced.Add(next);
            ids.Add(next);
        }
        return tokenizer.Decode(produced);
    }

    private static long DirectoryBytes(string directory) =>
        new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
}
