using System.Diagnostics;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Tokenization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Trains an early-exit head (<see cref="EarlyExitHead"/>) for a frozen target by knowledge distillation: the head reads
/// the residual stream after layer k and learns the final layer's next-token distribution (KL at temperature 1) on the
/// Brown training split, encoded with the target's tokenizer. It starts from the target's own final norm and LM head
/// (the "logit lens"), the baseline the report compares with. Early verdicts reward agreement with the final layer, so
/// that is what is measured on held-out text: how often the head's top-1 token is the final layer's.
/// </summary>
public static class EarlyExitDistiller
{
    public sealed record Options
    {
        /// <summary>Where the exit is: after this many layers; 0 (default) is half the target's layers.</summary>
        public int Layer { get; init; }
        public TimeSpan Duration { get; init; } = TimeSpan.FromMinutes(3);
        /// <summary>Stops earlier after this many steps (tests); the schedule then follows steps.</summary>
        public int? MaxSteps { get; init; }
        public int Context { get; init; } = 128;
        public int BatchSize { get; init; } = 16;
        public double PeakLearningRate { get; init; } = 2e-3;
        public int WarmupSteps { get; init; } = 20;
        public long Seed { get; init; } = 1;
        /// <summary>Most frequent training tokens the head scores besides each tree's own (<see cref="EarlyExitHead.Shortlist"/>); 0: the whole vocabulary.</summary>
        public int ShortlistSize { get; init; } = 1024;
    }

    /// <summary>What a run did (also written into <c>early_exit.json</c>).</summary>
    public sealed record Report(int Layer, int Layers, int Steps, double TrainSeconds, double LastLoss, double Top1AgreementUntrained, double Top1Agreement, int HeldOutPositions)
    {
        /// <summary>Top-1 agreement when the head scores only its shortlist (null without one).</summary>
        public double? ShortlistTop1Agreement { get; init; }
        public int ShortlistSize { get; init; }
    }

    /// <summary>The exit layer for <paramref name="requested"/> (0: half the layers), checked against the model.</summary>
    public static int ExitLayer(ModelConfig config, int requested)
    {
        int layer = requested == 0 ? config.NumHiddenLayers / 2 : requested;
        if (layer < 1 || layer >= config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(requested), requested, $"--early-exit-layer must be 1 to {config.NumHiddenLayers - 1} for a {config.NumHiddenLayers}-layer target (0: half).");
        return layer;
    }

    /// <summary>Trains a head on <paramref name="train"/> and measures it on <paramref name="heldOut"/>; the caller owns the head.</summary>
    public static (EarlyExitHead Head, Report Report) Train(CausalLm target, int[] train, int[] heldOut, Options o, Action<string>? log = null)
    {
        int layer = ExitLayer(target.Config, o.Layer), ctx = o.Context, batch = o.BatchSize;
        if (train.Length < ctx + 2) throw new ArgumentException($"Training needs more than {ctx + 1} tokens; got {train.Length}.", nameof(train));
        var head = EarlyExitHead.FromFinalLayer(target, layer, requiresGrad: true);
        try
        {
            double before = Top1Agreement(head, target, heldOut, ctx, batch, out _);
            log?.Invoke($"Exit after layer {layer} of {target.Config.NumHiddenLayers}: untrained (the final norm and head read there) top-1 = final on {before:P1} of held-out positions");
            var parameters = new[] { (Parameter)head.Norm, (Parameter)head.LmHead };
            using var optimizer = optim.AdamW(parameters, o.PeakLearningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: 0);
            var schedule = new TrainingOptions { Duration = o.Duration, MaxSteps = o.MaxSteps, PeakLearningRate = o.PeakLearningRate, WarmupSteps = o.WarmupSteps };
            var random = new Random((int)o.Seed);
            var window = new long[batch * ctx];
            var clock = Stopwatch.StartNew();
            var losses = new List<double>();
            var nextReport = TimeSpan.FromSeconds(20);
            while (true)
            {
                double progress = o.MaxSteps is int max ? (double)losses.Count / max : clock.Elapsed / o.Duration;
                if (progress >= 1 || clock.Elapsed >= o.Duration) break;
                foreach (var g in optimizer.ParamGroups) g.LearningRate = LanguageModelTrainer.LearningRate(schedule, losses.Count, progress);
                for (int b = 0; b < batch; b++)
                {
                    int start = random.Next(train.Length - ctx);
                    for (int t = 0; t < ctx; t++) window[b * ctx + t] = train[start + t];
                }
                double value;
                using (NewDisposeScope())
                {
                    var input = tensor(window, new long[] { batch, ctx });
                    Tensor teacher, exit;
                    using (no_grad())
                    {
                        var (logits, hidden) = target.ForwardFull(input, layer);
                        teacher = logits.to(ScalarType.Float32).log_softmax(-1);
                        exit = hidden!.to(ScalarType.Float32);
                    }
                    var student = head.Logits(exit).log_softmax(-1);
                    var loss = (teacher.exp() * (teacher - student)).sum(-1).mean();
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                    value = loss.item<float>();
                }
                if (!double.IsFinite(value)) throw new InvalidOperationException($"Exit head training diverged at step {losses.Count}: loss {value}.");
                losses.Add(value);
                if (log is not null && clock.Elapsed >= nextReport)
                {
                    nextReport += TimeSpan.FromSeconds(20);
                    log($"  step {losses.Count,5}  KL {losses.TakeLast(20).Average():F3}  elapsed {clock.Elapsed:mm\\:ss}");
                }
            }
            double after = Top1Agreement(head, target, heldOut, ctx, batch, out int positions);
            log?.Invoke($"Trained {losses.Count} steps in {clock.Elapsed.TotalSeconds:F0}s: top-1 = final on {after:P1} of {positions:N0} held-out positions (was {before:P1})");
            var report = new Report(layer, target.Config.NumHiddenLayers, losses.Count, clock.Elapsed.TotalSeconds,
                losses.Count > 0 ? losses.TakeLast(20).Average() : double.NaN, before, after, positions);
            if (o.ShortlistSize > 0 && o.ShortlistSize < target.Config.VocabSize)
            {
                head.Shortlist = MostFrequent(train, o.ShortlistSize);
                report = report with { ShortlistTop1Agreement = Top1Agreement(head, target, heldOut, ctx, batch, out _), ShortlistSize = o.ShortlistSize };
                log?.Invoke($"Scoring only the {o.ShortlistSize} most frequent training tokens: top-1 = final on {report.ShortlistTop1Agreement:P1}");
            }
            return (head, report);
        }
        catch
        {
            head.Dispose();
            throw;
        }
    }

    /// <summary>The <paramref name="count"/> most frequent ids of <paramref name="tokens"/>, ascending.</summary>
    public static int[] MostFrequent(int[] tokens, int count) =>
        tokens.GroupBy(t => t).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).Take(count).Select(g => g.Key).Order().ToArray();

    /// <summary>
    /// Fraction of held-out positions where the head's top-1 next token is the final layer's (consecutive windows of
    /// <paramref name="context"/> tokens, at most 256); over its shortlist alone when it has one (the bonus token's case).
    /// </summary>
    public static double Top1Agreement(EarlyExitHead head, CausalLm target, int[] tokens, int context, int batchSize, out int positions, bool overShortlist = true)
    {
        long same = 0, total = 0;
        int windows = Math.Min(256, tokens.Length / context);
        if (windows == 0) throw new ArgumentException($"Evaluation needs at least {context} tokens; got {tokens.Length}.", nameof(tokens));
        for (int first = 0; first < windows; first += batchSize)
        {
            int n = Math.Min(batchSize, windows - first);
            var data = new long[n * context];
            for (int i = 0; i < data.Length; i++) data[i] = tokens[first * context + i];
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (logits, hidden) = target.ForwardFull(tensor(data, new long[] { n, context }), head.Layer);
            var columns = overShortlist ? head.Candidates([]) : null;
            var top = head.Logits(hidden!, columns).argmax(-1);
            if (columns is not null) top = tensor(columns).index_select(0, top.reshape(-1)).reshape(top.shape);
            same += top.eq(logits.argmax(-1)).sum().item<long>();
            total += n * context;
        }
        positions = (int)total;
        return (double)same / total;
    }

    /// <summary>
    /// Trains a head for the target in <paramref name="targetDirectory"/> on the Brown corpus in
    /// <paramref name="corpusDirectory"/> and writes it into <paramref name="outputDirectory"/> (beside the checkpoint
    /// by default); the target's files are not touched.
    /// </summary>
    public static Report Run(string targetDirectory, string corpusDirectory, string? outputDirectory, Options o, Action<string> log)
    {
        var tokenizer = HfTokenizer.Load(targetDirectory);
        using var target = CausalLm.Load(targetDirectory, "float32");
        int eos = target.Config.EosTokenIds.Count > 0 ? target.Config.EosTokenIds[0]
            : tokenizer.EosTokenIds.Count > 0 ? tokenizer.EosTokenIds[0]
            : throw new InvalidDataException($"{targetDirectory} names no end-of-sequence token (config.json eos_token_id).");
        var (train, heldOut) = BrownCorpus.Split(BrownCorpus.Load(corpusDirectory));
        int[] Encode(IEnumerable<BrownCorpus.Document> documents) =>
            documents.SelectMany(d => tokenizer.Encode(d.Text, parseSpecialTokens: false).Append(eos)).ToArray();
        int[] trainIds = Encode(train), heldOutIds = Encode(heldOut);
        log($"Corpus (target's tokenizer): {trainIds.Length:N0} training tokens, {heldOutIds.Length:N0} held out");
        var (trained, report) = Train(target, trainIds, heldOutIds, o, log);
        string directory = outputDirectory ?? targetDirectory;
        var dtype = TensorSettings.ParseDType("auto", target.Config.TorchDtype);
        // What is stored is what counts: the head rounded to the checkpoint's dtype is measured again, and saved.
        using var head = trained.RoundedTo(dtype);
        trained.Dispose();
        report = report with
        {
            Top1Agreement = Top1Agreement(head, target, heldOutIds, o.Context, o.BatchSize, out _, overShortlist: false),
            ShortlistTop1Agreement = head.Shortlist is null ? null : Top1Agreement(head, target, heldOutIds, o.Context, o.BatchSize, out _),
        };
        head.Save(directory, new JsonObject
        {
            ["trained_from"] = targetDirectory, ["method"] = "distillation from the final logits (KL, T=1), target frozen",
            ["steps"] = report.Steps, ["train_seconds"] = Math.Round(report.TrainSeconds, 1),
            ["held_out_top1_agreement"] = Math.Round(report.Top1Agreement, 4), ["held_out_top1_agreement_untrained"] = Math.Round(report.Top1AgreementUntrained, 4),
            ["held_out_positions"] = report.HeldOutPositions,
            ["held_out_top1_agreement_shortlist"] = report.ShortlistTop1Agreement is double sl ? Math.Round(sl, 4) : null,
        }, dtype);
        log($"Wrote {Path.Combine(directory, EarlyExitHead.WeightsFile)} ({TensorSettings.Name(dtype)}) and {EarlyExitHead.DescriptionFile}; as stored: top-1 = final on {report.Top1Agreement:P1}");
        return report;
    }
}
