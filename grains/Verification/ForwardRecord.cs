using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// What a verifier's forwards were: the recent ones' batch sizes, durations and start times (for
/// <see cref="VerifierStats"/>: benchmarks read when the device was busy), and the silo's metrics of each forward.
/// </summary>
public sealed class ForwardRecord
{
    /// <summary>How many statistics of recent forwards are kept (older ones only count).</summary>
    public const int RecentForwards = 4096;
    private readonly RecentWindow<int> _batchSizes = new(RecentForwards);
    private readonly RecentWindow<double> _forwardMs = new(RecentForwards);
    /// <summary>When each recent forward started (Unix microseconds): with the durations, when the device was busy.</summary>
    private readonly RecentWindow<long> _forwardStarts = new(RecentForwards);

    /// <summary>A forward of <paramref name="batch"/> starts at <paramref name="started"/>.</summary>
    public void Started(IReadOnlyList<VerifierScheduler.Step> batch, DateTime started)
    {
        _batchSizes.Add(batch.Count);
        _forwardStarts.Add(StepTiming.NowUnixMicroseconds());
        foreach (var item in batch) SpecEdgeMetrics.QueueWait.Record((started - item.Enqueued).TotalSeconds);
        SpecEdgeMetrics.BatchSize.Record(batch.Count);
    }

    /// <summary>The forward of <paramref name="batch"/> took <paramref name="ms"/> on the device and ended at <paramref name="done"/>.</summary>
    public void Ended(IReadOnlyList<VerifierScheduler.Step> batch, double ms, DateTime done)
    {
        _forwardMs.Add(ms);
        SpecEdgeMetrics.DeviceBusy.Add(ms / 1000);
        foreach (var item in batch) SpecEdgeMetrics.StepDuration.Record((done - item.Enqueued).TotalSeconds);
    }

    public VerifierStats Stats(string verifier, int sequences, long kvBytes, string silo, int evictions) =>
        new(verifier, _batchSizes.Total, _batchSizes.ToArray(), sequences, kvBytes, silo, evictions, _forwardMs.ToArray(), _forwardStarts.ToArray());
}
