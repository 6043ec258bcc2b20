using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// One measured execution of a <see cref="DecodeKind"/> over all prompts at one batch size: the generated tokens per
/// prompt, target forwards per sequence, proactive statistics, and the component wall-clock times.
/// </summary>
public sealed record SpecRun(DecodeKind Kind, int Batch, int[][] Outputs, int SequenceForwards, int ProactiveHits, int ProactiveMisses,
    DecodeTimings Timings)
{
    public int Tokens => Outputs.Sum(o => o.Length);
    public double ComputeSeconds => Timings.TargetSeconds + Timings.DraftSeconds;
}
