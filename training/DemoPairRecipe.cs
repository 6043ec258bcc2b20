using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Produces the demo target/draft pair: the Brown corpus split 90/10 by document, a 2,048-token byte-level BPE trained
/// on the training part, a ~3.6M-parameter Qwen3-style target trained from scratch in fp32, then a ~1.3M-parameter
/// draft distilled from it (<see cref="DraftDistiller"/>: the target's width, its embeddings and first layer as the
/// start, KL to the target's logits), each for a fixed wall-clock time, then held-out bits/byte, draft-vs-target top-1
/// agreement, and both written in bf16 as Hugging Face directories sharing the tokenizer files.
/// </summary>
public static class DemoPairRecipe
{
    public const string EndOfText = "<|endoftext|>";
    public static readonly IReadOnlyList<string> SpecialTokens = new[] { EndOfText, "<|im_start|>", "<|im_end|>" };

    public sealed record Options
    {
        public required string CorpusDirectory { get; init; }
        public required string OutputDirectory { get; init; }
        public TimeSpan TargetTime { get; init; } = TimeSpan.FromMinutes(12);
        public TimeSpan DraftTime { get; init; } = TimeSpan.FromMinutes(5.5);
        /// <summary>Training of the target's early-exit head (half its layers, <see cref="EarlyExitDistiller"/>); zero skips it.</summary>
        public TimeSpan ExitTime { get; init; } = TimeSpan.FromMinutes(1);
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

        var config = TargetConfig(tokenizer.VocabSize, eos);
        using var target = new CausalLm(config, ModelWeights.Random(config, o.Seed, ScalarType.Float32, requiresGrad: true), ScalarType.Float32, CPU);
        const double targetLr = 3e-3;
        log($"Training target: {Parameters(target):N0} parameters, {o.TargetTime.TotalMinutes:F1} min, batch {o.BatchSize} x {o.Context} tokens, peak lr {targetLr}");
        var targetTraining = LanguageModelTrainer.Train(target, trainIds, new TrainingOptions
        {
            Duration = o.TargetTime, Context = o.Context, BatchSize = o.BatchSize, PeakLearningRate = targetLr, Seed = o.Seed,
        }, log);
        log($"Trained target: {targetTraining.Steps} steps, {targetTraining.TokensPerSecond:N0} tok/s, last-50-step loss {targetTraining.MeanLastLoss(50):F3}");
        string targetDir = Path.Combine(o.OutputDirectory, "target"), draftDir = Path.Combine(o.OutputDirectory, "draft");
        SaveBf16(target, targetDir);
        TokenizerJsonWriter.Write(tokenizer, targetDir, EndOfText, target.Config.MaxPositionEmbeddings);
        WriteGenerationConfig(targetDir, eos);

        // The draft learns the shipped (bf16) target, the model it will be verified against.
        var distilled = DraftDistiller.Run(new DraftDistiller.Options
        {
            TargetDirectory = targetDir, OutputDirectory = draftDir, CorpusDirectory = o.CorpusDirectory, Duration = o.DraftTime, Seed = o.Seed,
            Context = o.Context, BatchSize = o.BatchSize,
        }, log);
        using var draft = CausalLm.Load(draftDir, "float32");
        if (o.ExitTime > TimeSpan.Zero)
            EarlyExitDistiller.Run(targetDir, o.CorpusDirectory, null, new EarlyExitDistiller.Options { Duration = o.ExitTime, Seed = o.Seed, Context = o.Context, BatchSize = o.BatchSize }, log);

        double targetBpb = LanguageModelEvaluator.BitsPerByte(target, heldOutIds, tokenizer, o.Context, o.BatchSize);
        double draftBpb = LanguageModelEvaluator.BitsPerByte(draft, heldOutIds, tokenizer, o.Context, o.BatchSize);
        log($"Held out: target {targetBpb:F3} bits/byte, draft {draftBpb:F3} bits/byte; draft top-1 = target top-1 on {distilled.Top1Agreement:P1} of positions");
        string prompt = "The jury said";
        string targetSample = prompt + Sample(target, tokenizer, prompt, 40, o.Seed);
        string draftSample = prompt + Sample(draft, tokenizer, prompt, 40, o.Seed);
        log($"Sample (target, T=0.8): {targetSample}");
        log($"Sample (draft,  T=0.8): {draftSample}");

        var report = new Report(tokenizerSeconds, targetTraining.Elapsed.TotalSeconds, distilled.TrainSeconds,
            total.Elapsed.TotalSeconds, trainBytes, heldOutBytes, trainIds.Length, heldOutIds.Length,
            Parameters(target), distilled.DraftParameters, targetTraining.Steps, distilled.Steps,
            targetTraining.TokensPerSecond, distilled.TokensPerSecond, targetBpb, draftBpb, distilled.Top1Agreement,
            DirectoryBytes(targetDir), DirectoryBytes(draftDir), targetSample, draftSample);
        File.WriteAllText(Path.Combine(o.OutputDirectory, "train-report.json"),
            JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower }));
        return report;
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
