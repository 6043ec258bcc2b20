namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Predicts the spec benchmark's figures with the simulator. The benchmark decodes groups of b prompts in lockstep
/// (every step one batched verify of all b trees; drafts one after another on the same CPU, which its ITL model turns
/// into parallel edges), prefill untimed; so the simulation uses b sessions, the lockstep policy, a barrier between
/// groups and no prefill. Server tok/s is tokens per busy server second, as the benchmark reports it.
/// </summary>
public static class SpecPrediction
{
    public static List<PredictionRow> Predict(SpecCalibrationRun spec, IVerifyCost cost, IVerifyCost inRunCost, int[] rtts, int seed)
    {
        var rows = new List<PredictionRow>();
        foreach (var measured in spec.Rows)
        {
            int batch = measured.Batch;
            foreach (int rtt in rtts)
            {
                // Server-side modes do not see the round trip: compute their one simulation, at the first RTT only.
                if (measured.Placement != DraftPlacement.Edge && rtt != rtts[0]) continue;
                var result = Simulator.Run(Config(spec, cost, measured.Placement, batch, rtt, seed));
                var inRun = Simulator.Run(Config(spec, inRunCost, measured.Placement, batch, rtt, seed));
                string setting = $"batch {batch}, {measured.Mode}";
                if (rtt == rtts[0])
                    rows.Add(new PredictionRow("spec", setting, "server tok/s", measured.ServerThroughput, result.TokensPerBusySecond, inRun.TokensPerBusySecond));
                if (measured.Placement != DraftPlacement.Edge)
                    rows.Add(new PredictionRow("spec", setting, "ITL ms (any RTT)", measured.InterTokenLatencyMs(rtt), result.ItlMeanMs, inRun.ItlMeanMs));
                else rows.Add(new PredictionRow("spec", setting, $"ITL ms @{rtt} ms RTT", measured.InterTokenLatencyMs(rtt), result.ItlMeanMs, inRun.ItlMeanMs));
            }
        }
        return rows;
    }

    public static SimulationConfig Config(SpecCalibrationRun spec, IVerifyCost cost, DraftPlacement placement, int batch, int rttMs, int seed) => new()
    {
        Placement = placement, Sessions = batch, Verify = cost, Acceptance = spec.Acceptance,
        EdgeDraft = new[] { spec.DraftTime },
        // Server-only SD drafts every tree of the batch one after another on the server, before the verify.
        ServerDraft = (n, random) => Enumerable.Range(0, n).Sum(_ => spec.DraftTime.Sample(random)),
        RoundTrip = DurationDistribution.Constant(rttMs / 1000.0), MaxBatch = batch, Policy = BatchPolicy.Lockstep,
        PromptTokens = (int)Math.Round(spec.MeanPromptTokens), ReplyTokens = spec.MaxNewTokens,
        RepliesPerSession = (int)Math.Ceiling((double)spec.Prompts / batch), IncludePrefill = false, GroupBarrier = true, Seed = seed,
    };
}
