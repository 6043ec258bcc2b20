using SpecEdge.Inference.Sampling;

namespace SpecEdge.Inference.Speculative;

/// <summary>What to generate: prompt token ids, sampling settings and stop criteria.</summary>
public sealed record GenerationRequest(int[] Prompt, SamplingParams Sampling, StopCriteria Stop);

/// <summary>
/// The outcome of one sequence: generated tokens (after the prompt), why it stopped, and step statistics.
/// <see cref="TargetForwards"/> counts target forwards this sequence took part in (each a batch step).
/// </summary>
public sealed record GenerationResult(int[] Tokens, FinishReason Finish, int TargetForwards, int ProactiveHits = 0, int ProactiveMisses = 0)
{
    /// <summary>One per generated token when the request asked for them (<see cref="SamplingParams.Logprobs"/>); else empty.</summary>
    public IReadOnlyList<TokenLogprob> Logprobs { get; init; } = Array.Empty<TokenLogprob>();

    public double TokensPerForward => TargetForwards == 0 ? 0 : (double)Tokens.Length / TargetForwards;
}

/// <summary>Wall-clock time spent on each side during a run, for benchmarks.</summary>
public sealed class DecodeTimings
{
    public double TargetSeconds { get; set; }
    public double DraftSeconds { get; set; }
    public int TargetForwards { get; set; }
    /// <summary>Trees verified and their nodes besides the root, summed (tree SD only).</summary>
    public long Trees { get; set; }
    public long TreeNodes { get; set; }
    /// <summary>Per target step: (batch size, seconds).</summary>
    public List<(int Batch, double Seconds)> Steps { get; } = new();
    /// <summary>Per sequence per step: draft seconds spent before the tree could be sent (the part not hidden).</summary>
    public List<double> DraftLatencies { get; } = new();
    /// <summary>Per sequence per step: draft seconds spent pre-drafting while the verdict was outstanding.</summary>
    public List<double> PreDraftLatencies { get; } = new();
    /// <summary>Per sequence per step: tokens the step emitted (accepted draft tokens + the bonus), the acceptance distribution a capacity model samples.</summary>
    public List<int> StepTokens { get; } = new();
    /// <summary>
    /// Every tree SD generation's trees as verified, step by step (which requests were active, and their trees), so a
    /// benchmark can replay the target's work alone: in one process the draft's forwards between the target's evict
    /// the target's weights from the CPU caches, a cost an edge-assisted server, whose drafts run on the edges, never pays.
    /// </summary>
    public List<RecordedGeneration> Recorded { get; } = new();
}

/// <summary>One generation's requests and each step's verified trees (see <see cref="DecodeTimings.Recorded"/>).</summary>
public sealed record RecordedGeneration(IReadOnlyList<GenerationRequest> Requests, int Capacity, List<(int[] Active, DraftMessage[] Trees)> Steps);
