namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// A verify cost times a measured factor: the cluster's verifier does more per forward than the bare forward the
/// calibration times (tree validation, acceptance, KV compaction, the hop to its device thread), so its own forward
/// times, measured in the cluster's calibration phase, scale the fitted model.
/// </summary>
public sealed record ScaledVerifyCost(IVerifyCost Inner, double Factor) : IVerifyCost
{
    public double Seconds(IReadOnlyList<VerifyItem> batch) => Factor * Inner.Seconds(batch);
}
