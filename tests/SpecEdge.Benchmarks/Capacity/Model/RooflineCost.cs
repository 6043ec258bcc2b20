namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Roofline cost of one batched forward on a device: max(bytes moved / bandwidth, FLOPs / peak) + a fixed launch
/// overhead. Bytes: the weights once per forward (shared by the whole batch) plus every sequence's KV context read and
/// its new KV written. Peaks are published figures, so this is a lower bound on real forward time.
/// </summary>
public sealed record RooflineCost(ModelShape Model, HardwareSpec Device, double LaunchOverheadSeconds) : IVerifyCost
{
    public double Bytes(IReadOnlyList<VerifyItem> batch) =>
        Model.WeightBytesRead + batch.Sum(i => (double)(i.Context + i.Tokens) * Model.KvBytesPerToken);

    public double Flops(IReadOnlyList<VerifyItem> batch) => batch.Sum(i => Model.Flops(i.Tokens, i.Context));

    public double Seconds(IReadOnlyList<VerifyItem> batch) =>
        Math.Max(Bytes(batch) / Device.BandwidthBytesPerSecond, Flops(batch) / Device.PeakFlopsPerSecond) + LaunchOverheadSeconds;

    /// <summary>
    /// Building one draft tree (SpecExec-style): <paramref name="rounds"/> sequential draft forwards, each over up to
    /// <paramref name="beams"/> expanded nodes of every sequence in the batch, attending to the context. Batched over
    /// <paramref name="sequences"/> when a server drafts for many sessions at once; one sequence on an edge.
    /// </summary>
    public double DraftTreeSeconds(int sequences, int rounds, int beams, int context) =>
        rounds * Seconds(Enumerable.Range(0, sequences).Select(_ => new VerifyItem(beams, context)).ToList());
}
