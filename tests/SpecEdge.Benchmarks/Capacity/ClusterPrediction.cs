namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Predicts the cluster run's figures: c sessions decoding concurrently through a work-conserving verifier (max batch 8),
/// each reply starting with a prefill, the measured per-step cluster overhead as the round trip, and (because edges and
/// verifier share this machine) every draft and every forward holding one of its cores. Acceptance and draft times come
/// from the spec run (other prompts), not from the cluster run.
/// </summary>
public static class ClusterPrediction
{
    public static List<PredictionRow> Predict(ClusterCalibrationRun.Result cluster, SpecCalibrationRun spec, IVerifyCost cost,
        double promptTokens, int maxNew, int cores, int seed)
    {
        var rows = new List<PredictionRow>();
        foreach (var m in cluster.Rows)
        {
            var result = Simulator.Run(Config(cluster, spec, cost, m.Clients, promptTokens, maxNew, cores, seed));
            string setting = $"{m.Clients} edge client(s)";
            rows.Add(new PredictionRow("cluster", setting, "tokens/s (wall)", m.TokensPerSecond, result.TokensPerSecond));
            rows.Add(new PredictionRow("cluster", setting, "ITL mean ms", m.ItlMeanMs, result.ItlMeanMs));
            rows.Add(new PredictionRow("cluster", setting, "ITL p50 ms", m.ItlP50Ms, result.ItlP50Ms));
            rows.Add(new PredictionRow("cluster", setting, "ITL p95 ms", m.ItlP95Ms, result.ItlP95Ms));
            rows.Add(new PredictionRow("cluster", setting, "TTFT p50 ms", m.TtftP50Ms, result.TtftP50Ms));
            rows.Add(new PredictionRow("cluster", setting, "mean verifier batch", m.MeanBatch, result.MeanBatch));
        }
        return rows;
    }

    public static SimulationConfig Config(ClusterCalibrationRun.Result cluster, SpecCalibrationRun spec, IVerifyCost cost, int clients,
        double promptTokens, int maxNew, int cores, int seed) => new()
    {
        Placement = DraftPlacement.Edge, Sessions = clients, Verify = cost, Acceptance = spec.Acceptance, EdgeDraft = new[] { spec.DraftTime },
        RoundTrip = cluster.Overhead, MaxBatch = cluster.MaxBatch, Policy = BatchPolicy.WorkConserving,
        PromptTokens = Math.Max(1, (int)Math.Round(promptTokens)), ReplyTokens = maxNew, RepliesPerSession = cluster.RepliesPerClient,
        IncludePrefill = true, SharedCores = cores, Seed = seed,
    };
}
