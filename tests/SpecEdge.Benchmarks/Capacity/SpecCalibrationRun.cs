using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// The core of the spec benchmark, run in the capacity command's process: the same prompts (raw continuation), greedy,
/// the same decoders, target-only AR and tree SD (no proactive drafting) at each batch size, fastest of a few runs.
/// The runs go in rounds (every batch size and kind once per round) with <paramref name="betweenRounds"/> called before
/// each, so that what is measured between rounds (the forward calibration) sees the same load.
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
        IReadOnlySet<int> eos, Action betweenRounds, Action<string> log)
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
        var kinds = new[] { DecodeKind.Autoregressive, DecodeKind.Speculative };
        var configs = batches.SelectMany(b => kinds.Select(k => (Batch: b, Kind: k))).ToList();
        var best = new Dictionary<(int, DecodeKind), SpecRun>();
        foreach (var (batch, kind) in configs)
            Run(verifier, draft, requests.Chunk(batch).First(), kind, tree, capacity, null);   // warm-up, discarded
        for (int r = 0; r < repeats; r++)
        {
            betweenRounds();
            foreach (var (batch, kind) in configs)
            {
                var timings = new DecodeTimings();
                var results = requests.Chunk(batch).SelectMany(g => Run(verifier, draft, g, kind, tree, capacity, timings)).ToArray();
                var run = new SpecRun(kind, batch, results.Select(x => x.Tokens).ToArray(), results.Sum(x => x.TargetForwards), 0, 0, timings);
                if (!best.TryGetValue((batch, kind), out var kept) || run.ComputeSeconds < kept.ComputeSeconds) best[(batch, kind)] = run;
            }
            log($"  round {r + 1}/{repeats}: forward cases and spec runs done; load {(File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a")}");
        }
        foreach (var (batch, kind) in configs)
        {
            var run = best[(batch, kind)];
            int nodes = kind == DecodeKind.Autoregressive ? 1 : tree.Budget + 1;
            verifySteps.AddRange(run.Timings.Steps.Select(st => new VerifyCostSample(st.Batch, nodes, context, st.Seconds * 1000)));
            if (kind == DecodeKind.Autoregressive) rows.Add(new SpecModeResult("target-only AR", DraftPlacement.None, run));
            else
            {
                rows.Add(new SpecModeResult("server-only SD", DraftPlacement.Server, run));
                rows.Add(new SpecModeResult("edge-assisted SD", DraftPlacement.Edge, run));
                stepTokens.AddRange(run.Timings.StepTokens);
                draftSeconds.AddRange(run.Timings.DraftLatencies);
            }
            log($"  spec run: batch {batch,2} {kind,-14} {run.ComputeSeconds,6:F2} s compute (fastest of {repeats})");
        }
        return new SpecCalibrationRun(rows, AcceptanceModel.Measured(stepTokens, "spec run, all SD steps"),
            DurationDistribution.Empirical(draftSeconds, "spec run, tree build times"), prompts.Average(p => p.Length), prompts.Length, maxNew, verifySteps);
    }

    private static GenerationResult[] Run(TargetVerifier verifier, CausalLm draft, GenerationRequest[] group, DecodeKind kind,
        DraftTreeOptions tree, int capacity, DecodeTimings? timings) => kind == DecodeKind.Autoregressive
        ? AutoregressiveDecoder.Generate(verifier, group, capacity, timings)
        : SpeculativeDecoder.Generate(verifier, draft, group, tree, capacity, timings);
}
