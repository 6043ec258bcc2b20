namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Predicts the cluster run's figures: c sessions decoding concurrently through a work-conserving verifier (max batch 8),
/// each reply starting with a prefill, the measured per-step cluster overhead as the round trip, and (because edges and
/// verifier share this machine) every draft and every forward holding one of its cores. Round trip, edge time per step
/// and tokens per step come from the cluster's single-client calibration phase (other conversations than the measured
/// ones); the verify cost from the forward timings (or, as a diagnostic, the spec run's verify steps), scaled by the
/// ratio of the verifier's own forward times in that phase to what the fit predicts for them (<see cref="ScaledVerifyCost"/>).
/// </summary>
public static class ClusterPrediction
{
    public static List<PredictionRow> Predict(ClusterCalibrationRun.Result cluster, IVerifyCost cost, IVerifyCost inRunCost,
        double promptTokens, int maxNew, int cores, int seed)
    {
        var rows = new List<PredictionRow>();
        cost = VerifierPath(cluster, cost, promptTokens, maxNew);
        inRunCost = VerifierPath(cluster, inRunCost, promptTokens, maxNew);
        // The phase the inputs came from, predicted back: how well the model reproduces the run it was calibrated on.
        foreach (var (m, setting) in new[] { (cluster.CalibrationPhase, "1 edge client, calibration phase (in-sample)") })
        {
            var a = Simulator.Run(Config(cluster, cost, 1, promptTokens, maxNew, cores, seed) with { RepliesPerSession = 4 });
            var b = Simulator.Run(Config(cluster, inRunCost, 1, promptTokens, maxNew, cores, seed) with { RepliesPerSession = 4 });
            rows.Add(new PredictionRow("cluster", setting, "tokens/s (wall)", m.TokensPerSecond, a.TokensPerSecond, b.TokensPerSecond));
            rows.Add(new PredictionRow("cluster", setting, "ITL mean ms", m.ItlMeanMs, a.ItlMeanMs, b.ItlMeanMs));
        }
        foreach (var m in cluster.Rows)
        {
            var a = Simulator.Run(Config(cluster, cost, m.Clients, promptTokens, maxNew, cores, seed));
            var b = Simulator.Run(Config(cluster, inRunCost, m.Clients, promptTokens, maxNew, cores, seed));
            string setting = $"{m.Clients} edge client(s)";
            rows.Add(new PredictionRow("cluster", setting, "tokens/s (wall)", m.TokensPerSecond, a.TokensPerSecond, b.TokensPerSecond));
            rows.Add(new PredictionRow("cluster", setting, "ITL mean ms", m.ItlMeanMs, a.ItlMeanMs, b.ItlMeanMs));
            rows.Add(new PredictionRow("cluster", setting, "ITL p50 ms", m.ItlP50Ms, a.ItlP50Ms, b.ItlP50Ms));
            rows.Add(new PredictionRow("cluster", setting, "ITL p95 ms", m.ItlP95Ms, a.ItlP95Ms, b.ItlP95Ms));
            rows.Add(new PredictionRow("cluster", setting, "TTFT p50 ms", m.TtftP50Ms, a.TtftP50Ms, b.TtftP50Ms));
            rows.Add(new PredictionRow("cluster", setting, "mean verifier batch", m.MeanBatch, a.MeanBatch, b.MeanBatch));
        }
        return rows;
    }

    /// <summary>The cost scaled so that a single tree at the reply's mean context costs what the cluster's verifier measured.</summary>
    public static ScaledVerifyCost VerifierPath(ClusterCalibrationRun.Result cluster, IVerifyCost cost, double promptTokens, int maxNew)
    {
        var single = new[] { new VerifyItem(33, (int)Math.Round(promptTokens + maxNew / 2.0)) };
        return new ScaledVerifyCost(cost, cluster.ServerForwardMs / 1000 / cost.Seconds(single));
    }

    public static SimulationConfig Config(ClusterCalibrationRun.Result cluster, IVerifyCost cost, int clients,
        double promptTokens, int maxNew, int cores, int seed) => new()
    {
        Placement = DraftPlacement.Edge, Sessions = clients, Verify = cost, Acceptance = cluster.Acceptance, EdgeDraft = new[] { cluster.EdgeStep },
        RoundTrip = cluster.Overhead, MaxBatch = cluster.MaxBatch, Policy = BatchPolicy.WorkConserving,
        PromptTokens = Math.Max(1, (int)Math.Round(promptTokens)), ReplyTokens = maxNew, RepliesPerSession = cluster.RepliesPerClient,
        IncludePrefill = true, SharedCores = cores, Seed = seed,
    };
}
