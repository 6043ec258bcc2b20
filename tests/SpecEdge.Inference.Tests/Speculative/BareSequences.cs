using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Target sequences with nothing computed, for tests of the pricing rules that only read a forward's shape: a tiny
/// model's empty caches and three committed tokens (the last one the next root). Disposes all it made.
/// </summary>
public sealed class BareSequences : IDisposable
{
    private readonly CausalLm _model = CausalLm.Load(TestModels.Write(TestModels.Config("qwen3", tied: true), seed: 9));
    private readonly List<TargetSequence> _made = new();

    /// <summary>A greedy sequence whose committed tokens end with <paramref name="root"/>.</summary>
    public TargetSequence New(int root = 3)
    {
        var sequence = new TargetSequence(_model.NewCache(64), new[] { 1, 2, root }, 3, SamplingParams.Greedy, new StopCriteria(Array.Empty<int>(), 10));
        _made.Add(sequence);
        return sequence;
    }

    public void Dispose()
    {
        foreach (var s in _made) s.Dispose();
        _model.Dispose();
    }
}
