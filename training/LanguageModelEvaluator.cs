using SpecEdge.Inference.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace SpecEdge.Inference.Training;

/// <summary>
/// Held-out measurements over a token stream cut into consecutive windows of <c>context + 1</c> tokens (stride
/// <c>context</c>), so every token after the first is predicted exactly once, with 0..context-1 tokens of context.
/// </summary>
public static class LanguageModelEvaluator
{
    /// <summary>
    /// Bits per UTF-8 byte of text: summed next-token cross-entropy (nats) / ln 2 / bytes of the predicted tokens.
    /// A special token (the document separator) counts as one byte, like the newline it stands for.
    /// </summary>
    public static double BitsPerByte(CausalLm model, int[] tokens, ByteLevelBpeTokenizer tokenizer, int context, int batchSize, int? maxWindows = null)
    {
        double nats = 0;
        long bytes = 0;
        foreach (var (input, target, targetIds) in Windows(tokens, context, batchSize, maxWindows))
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var logits = model.ForwardFull(input);                                            // [B, T, V]
            nats += F.cross_entropy(logits.reshape(-1, logits.shape[2]).to(ScalarType.Float32), target.reshape(-1),
                reduction: nn.Reduction.Sum).item<float>();
            foreach (long id in targetIds) bytes += Math.Max(1, tokenizer.ByteLength((int)id));
        }
        return nats / Math.Log(2) / bytes;
    }

    /// <summary>Fraction of positions where the two models' greedy (argmax) next tokens are the same.</summary>
    public static double Top1Agreement(CausalLm draft, CausalLm target, int[] tokens, int context, int batchSize, int? maxWindows = null)
    {
        long same = 0, total = 0;
        foreach (var (input, _, _) in Windows(tokens, context, batchSize, maxWindows))
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var a = draft.ForwardFull(input).argmax(-1);                                      // [B, T]
            var b = target.ForwardFull(input).argmax(-1);
            same += a.eq(b).sum().item<long>();
            total += a.numel();
        }
        return (double)same / total;
    }

    private static IEnumerable<(Tensor Input, Tensor Target, long[] TargetIds)> Windows(int[] tokens, int context, int batchSize, int? maxWindows)
    {
        int count = (tokens.Length - 1) / context;
        if (maxWindows is int m) count = Math.Min(count, m);
        if (count == 0) throw new ArgumentException($"Evaluation needs more than {context} tokens; got {tokens.Length}.", nameof(tokens));
        for (int first = 0; first < count; first += batchSize)
        {
            int n = Math.Min(batchSize, count - first);
            var data = new long[n * (context + 1)];
            for (int b = 0; b < n; b++)
                for (int t = 0; t <= context; t++) data[b * (context + 1) + t] = tokens[(first + b) * context + t];
            using var all = tensor(data, new long[] { n, context + 1 });
            var targetIds = Enumerable.Range(0, n).SelectMany(b => data.Skip(b * (context + 1) + 1).Take(context)).ToArray();
            using var input = all.narrow(1, 0, context).contiguous();
            using var target = all.narrow(1, 1, context).contiguous();
            yield return (input, target, targetIds);
        }
    }
}
