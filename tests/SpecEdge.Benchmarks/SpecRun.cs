using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// One measured execution of a <see cref="DecodeKind"/> over all prompts at one batch size: the generated tokens per
/// prompt, target forwards per sequence, proactive statistics, and the component wall-clock times. <see cref="Variant"/>
/// names the draft and tree shape when a run compares several ("" when there is one of each).
/// </summary>
public sealed record SpecRun(DecodeKind Kind, int Batch, int[][] Outputs, int SequenceForwards, int ProactiveHits, int ProactiveMisses,
    DecodeTimings Timings, string Variant = "")
{
    /// <summary>The target's steps replayed without the draft (<see cref="TargetReplay"/>): what an edge-assisted server spends; null for AR runs.</summary>
    public (List<double> StepSeconds, double Seconds)? Replay { get; set; }
    /// <summary>Mean nodes besides the root per tree verified (0 for target-only runs).</summary>
    public double MeanTreeNodes => Timings.Trees == 0 ? 0 : (double)Timings.TreeNodes / Timings.Trees;
    public int Tokens => Outputs.Sum(o => o.Length);
    public double ComputeSeconds => Timings.TargetSeconds + Timings.DraftSeconds;
}
