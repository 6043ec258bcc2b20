using System.Diagnostics;
using SpecEdge.Inference.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Trains a <see cref="CausalLm"/> whose weights are trainable leaves (<see cref="ModelWeights.Random"/> with
/// requiresGrad) on a token stream: random windows of <see cref="TrainingOptions.Context"/> + 1 tokens, next-token
/// cross-entropy, AdamW (weight decay on matrices only), gradient clipping, warmup + cosine learning rate.
/// Every step runs in its own dispose scope: without it native memory grows by ~100 MB per step here.
/// A caller may replace the loss (knowledge distillation: <see cref="DraftDistiller"/>).
/// </summary>
public static class LanguageModelTrainer
{
    /// <summary>
    /// The training loss of one batch: input ids [B, T], the model's logits [B, T, V] and the next-token labels [B, T]
    /// in; a differentiable scalar out.
    /// </summary>
    public delegate Tensor BatchLoss(Tensor input, Tensor logits, Tensor labels);

    /// <summary>Next-token cross-entropy against the corpus (the default loss).</summary>
    public static Tensor CrossEntropy(Tensor input, Tensor logits, Tensor labels) =>
        F.cross_entropy(logits.reshape(-1, logits.shape[2]).to(ScalarType.Float32), labels.reshape(-1));

    public static TrainingReport Train(CausalLm model, int[] tokens, TrainingOptions options, Action<string>? log = null, BatchLoss? loss = null)
    {
        loss ??= CrossEntropy;
        int ctx = options.Context, batch = options.BatchSize;
        if (tokens.Length < ctx + 2)
            throw new ArgumentException($"Training needs more than {ctx + 1} tokens; got {tokens.Length}.", nameof(tokens));
        var parameters = model.Weights.All.Select(t => t as Parameter
            ?? throw new ArgumentException("Model weights are not trainable; create them with ModelWeights.Random(..., requiresGrad: true).")).ToList();
        var groups = new[]
        {
            new AdamW.ParamGroup(parameters.Where(p => p.dim() >= 2), new AdamW.Options { LearningRate = options.PeakLearningRate, weight_decay = options.WeightDecay }),
            new AdamW.ParamGroup(parameters.Where(p => p.dim() < 2), new AdamW.Options { LearningRate = options.PeakLearningRate, weight_decay = 0 }),
        };
        using var optimizer = optim.AdamW(groups, options.PeakLearningRate, beta1: 0.9, beta2: 0.95, eps: 1e-8, weight_decay: options.WeightDecay);

        var random = new Random((int)options.Seed);
        var losses = new List<double>();
        var clock = Stopwatch.StartNew();
        var nextReport = options.ProgressEvery;
        long seen = 0;
        double smoothed = double.NaN;
        var window = new long[batch * (ctx + 1)];
        while (true)
        {
            double progress = options.MaxSteps is int max ? (double)losses.Count / max : clock.Elapsed / options.Duration;
            if (progress >= 1 || clock.Elapsed >= options.Duration) break;
            double lr = LearningRate(options, losses.Count, progress);
            foreach (var g in optimizer.ParamGroups) g.LearningRate = lr;

            for (int b = 0; b < batch; b++)
            {
                int start = random.Next(tokens.Length - ctx);
                for (int t = 0; t <= ctx; t++) window[b * (ctx + 1) + t] = tokens[start + t];
            }
            double value;
            using (NewDisposeScope())
            {
                var data = torch.tensor(window, new long[] { batch, ctx + 1 });
                var input = data.narrow(1, 0, ctx);
                var target = data.narrow(1, 1, ctx);
                var logits = model.ForwardFull(input);                                     // [B, T, V]
                var l = loss(input, logits, target);
                optimizer.zero_grad();
                l.backward();
                nn.utils.clip_grad_norm_(parameters, options.ClipNorm);
                optimizer.step();
                value = l.item<float>();
            }
            if (!double.IsFinite(value)) throw new InvalidOperationException($"Training diverged at step {losses.Count}: loss {value}.");
            losses.Add(value);
            seen += (long)batch * ctx;
            smoothed = double.IsNaN(smoothed) ? value : 0.95 * smoothed + 0.05 * value;
            if (log is not null && clock.Elapsed >= nextReport)
            {
                nextReport += options.ProgressEvery;
                var elapsed = clock.Elapsed;
                var eta = options.MaxSteps is int m
                    ? elapsed * ((double)(m - losses.Count) / losses.Count)
                    : options.Duration - elapsed;
                log($"  step {losses.Count,5}  loss {smoothed:F3}  lr {lr:E2}  {seen / elapsed.TotalSeconds,7:N0} tok/s  " +
                    $"elapsed {elapsed:mm\\:ss}  ETA {(eta < TimeSpan.Zero ? TimeSpan.Zero : eta):mm\\:ss}");
            }
        }
        return new TrainingReport(losses.Count, seen, clock.Elapsed, losses);
    }

    /// <summary>Linear warmup over the first steps, then cosine from the peak down to the floor as progress goes 0 -> 1.</summary>
    public static double LearningRate(TrainingOptions o, int step, double progress)
    {
        double warm = Math.Min(1.0, (step + 1.0) / Math.Max(1, o.WarmupSteps));
        double cosine = 0.5 * (1 + Math.Cos(Math.PI * Math.Clamp(progress, 0, 1)));
        return o.PeakLearningRate * warm * (o.MinLearningRateFraction + (1 - o.MinLearningRateFraction) * cosine);
    }
}
