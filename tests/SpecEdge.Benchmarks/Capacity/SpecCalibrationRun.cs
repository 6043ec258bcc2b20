using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The core of the spec benchmark, run in the capacity command's process: the same prompts (raw continuation), greedy,
/// the same decoders, target-only AR and tree SD (no proactive drafting) at each batch size, fastest of a few runs.
/// Its rows are the MEASURED figures the simulator must predict; its per-step tokens and draft times are pooled over
/// all SD runs into the acceptance and draft-time distributions the simulator samples.
/// </summary>
public sealed record SpecCalibrationRun(IReadOnlyList<SpecModeResult> Rows, AcceptanceModel Acceptance, DurationDistribution DraftTime,
    double MeanPromptTokens, int Prompts, int MaxNewTokens, IReadOnlyList<VerifyCostSample> VerifySteps)
{
    /// <summary>
    /// The verify cost fitted to this run's own verify steps (every AR and SD step: batch size and wall time; the context
    /// of a step is not recorded, so each counts as the mean prompt plus half a reply). In-sample for the spec figures;
    /// it tells apart what the simulator gets wrong from what the forward timings miss (verify work beyond the forward:
    /// acceptance, KV compaction; and the load of the moment).
    /// </summary>
    public LinearVerifyCost InRunCost() =>
        LinearVerifyCost.Fit(VerifySteps.Select(s => (s.Items, s.MeasuredMs / 1000)).ToList(), withContext: false);

    public static SpecCalibrationRun Execute(CausalLm target, CausalLm draft, int[][] prompts, int[] batches, int maxNew, int repeats,
        IReadOnlySet<int> eos, Action<string> log)
    {
        var tree = new DraftTreeOptions { Proactive = false };
        int capacity = prompts.Max(p => p.Length) + maxNew + 2 * (tree.Budget + 1) + 16;
        var requests = prompts.Select(p => new GenerationRequest(p, SamplingParams.Greedy, new StopCriteria(eos.ToHashSet(), maxNew))).ToArray();
        var verifier = new TargetVerifier(target);
        var rows = new List<SpecModeResult>();
        var stepTokens = new List<int>();
        var draftSeconds = new List<double>();
        var verifySteps = new List<VerifyCostSample>();
        int context = (int)Math.Round(prompts.Average(p => p.Length) + maxNew / 2.0);
        foreach (int batch in batches)
        {
            var groups = requests.Chunk(batch).ToArray();
            foreach (var kind in new[] { DecodeKind.Autoregressive, DecodeKind.Speculative })
            {
                Run(verifier, draft, groups[0], kind, tree, capacity, null);   // warm-up, discarded
                SpecRun? best = null;
                for (int r = 0; r < repeats; r++)
                {
                    var timings = new DecodeTimings();
                    var results = groups.SelectMany(g => Run(verifier, draft, g, kind, tree, capacity, timings)).ToArray();
                    var run = new SpecRun(kind, batch, results.Select(x => x.Tokens).ToArray(), results.Sum(x => x.TargetForwards), 0, 0, timings);
                    if (best is null || run.ComputeSeconds < best.ComputeSeconds) best = run;
                }
                int nodes = kind == DecodeKind.Autoregressive ? 1 : tree.Budget + 1;
                verifySteps.AddRange(best!.Timings.Steps.Select(st => new VerifyCostSample(st.Batch, nodes, context, st.Seconds * 1000)));
                if (kind == DecodeKind.Autoregressive) rows.Add(new SpecModeResult("target-only AR", DraftPlacement.None, best!));
                else
                {
                    rows.Add(new SpecModeResult("server-only SD", DraftPlacement.Server, best!));
                    rows.Add(new SpecModeResult("edge-assisted SD", DraftPlacement.Edge, best!));
                    stepTokens.AddRange(best!.Timings.StepTokens);
                    draftSeconds.AddRange(best.Timings.DraftLatencies);
                }
                log($"  spec run: batch {batch,2} {kind,-14} {best!.ComputeSeconds,6:F2} s compute (fastest of {repeats})");
            }
        }
        return new SpecCalibrationRun(rows, AcceptanceModel.Measured(stepTokens, "spec run, all SD steps"),
            DurationDistribution.Empirical(draftSeconds, "spec run, tree build times"), prompts.Average(p => p.Length), prompts.Length, maxNew, verifySteps);
    }

    private static GenerationResult[] Run(TargetVerifier verifier, CausalLm draft, GenerationRequest[] group, DecodeKind kind,
        DraftTreeOptions tree, int capacity, DecodeTimings? timings) => kind == DecodeKind.Autoregressive
        ? AutoregressiveDecoder.Generate(verifier, group, capacity, timings)
        : SpeculativeDecoder.Generate(verifier, draft, group, tree, capacity, timings);
}
