using System.Diagnostics;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// The target's share of a tree SD run, measured again without the draft: each recorded generation's trees (as they
/// were verified) go through the verifier step by step, as on an edge-assisted server, where drafts run on the edges.
/// In one process the draft's forwards between the target's evict the target's weights from the CPU caches (a 1-token
/// target step costs about 1.9 times as much right after draft forwards on the 2-core VM), which would charge the
/// edge-assisted modes for work their server never does. Greedy verification is deterministic, so the replay must
/// commit exactly what the run did; it throws if not.
/// </summary>
public static class TargetReplay
{
    /// <returns>Seconds per step, in the order of <see cref="DecodeTimings.Steps"/>, and their sum.</returns>
    public static (List<double> StepSeconds, double Seconds) Run(TargetVerifier verifier, DecodeTimings timings)
    {
        var steps = new List<double>();
        var clock = new Stopwatch();
        foreach (var generation in timings.Recorded)
        {
            var sequences = generation.Requests.Select(r => verifier.Start(r.Prompt, r.Sampling, r.Stop, generation.Capacity)).ToList();
            try
            {
                foreach (var (active, trees) in generation.Steps)
                {
                    var batch = active.Select((request, k) => (sequences[request], trees[k] with { Step = sequences[request].Step })).ToList();
                    clock.Restart();
                    verifier.Verify(batch);
                    clock.Stop();
                    steps.Add(clock.Elapsed.TotalSeconds);
                }
                if (sequences.Any(s => !s.Finished)) throw new InvalidOperationException("The replay did not finish what the run finished: verification is not deterministic.");
            }
            finally
            {
                foreach (var s in sequences) s.Dispose();
            }
        }
        return (steps, steps.Sum());
    }
}
