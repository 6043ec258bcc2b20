using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace SpecEdge.Grains.Hosting;

/// <summary>
/// The silo's own metrics (meter <see cref="MeterName"/>), next to Orleans' meter "Microsoft.Orleans". Instruments are
/// static, as the .NET metrics guidance allows for a library: grains record into them without an extra constructor
/// parameter, and whoever hosts the silo decides whether to export them (the silo exports both meters on /metrics).
/// Names follow OpenTelemetry conventions (dots, units in <c>unit</c>); Prometheus sees e.g.
/// <c>specedge_tokens_committed_total</c> and <c>specedge_step_duration_seconds</c>.
/// </summary>
public static class SpecEdgeMetrics
{
    public const string MeterName = "SpecEdge";

    private static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary>Reply tokens made durable; its rate is tokens/s.</summary>
    public static readonly Counter<long> TokensCommitted = Meter.CreateCounter<long>("specedge.tokens.committed", "{token}", "Reply tokens committed (accepted draft tokens plus the bonus token) and persisted");

    /// <summary>Tokens committed per verification step (accepted draft tokens + 1 bonus).</summary>
    public static readonly Histogram<int> TokensPerStep = Meter.CreateHistogram<int>("specedge.step.tokens", "{token}", "Tokens committed per step",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 4, 5, 6, 8, 10, 12, 16] });

    /// <summary>Nodes of each draft tree verified (besides the root).</summary>
    public static readonly Histogram<int> TreeSize = Meter.CreateHistogram<int>("specedge.tree.size", "{node}", "Draft tree nodes per verified tree",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128] });

    /// <summary>Nodes of each tree the verifier verified after goodput trimming (what paid at its load), besides the root.</summary>
    public static readonly Histogram<int> VerifiedTreeNodes = Meter.CreateHistogram<int>("specedge.tree.verified", "{node}",
        "Draft tree nodes verified per tree after trimming",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [0, 1, 2, 4, 8, 16, 24, 32, 48, 64, 96, 128] });

    /// <summary>Steps (trees, decode steps, prefills) run in one forward.</summary>
    public static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("specedge.verifier.batch.size", "{step}", "Steps per batched forward",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32] });

    /// <summary>Time a step waited in the verifier's queue before its forward started.</summary>
    public static readonly Histogram<double> QueueWait = Meter.CreateHistogram<double>("specedge.verifier.queue.wait", "s", "Time a step waited for the device",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });

    /// <summary>Verifier-side step latency: queued until its verdict (queue wait + batched forward).</summary>
    public static readonly Histogram<double> StepDuration = Meter.CreateHistogram<double>("specedge.step.duration", "s", "Step latency at the verifier: enqueue to verdict",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5] });

    /// <summary>Seconds the device spent in forwards; its rate is the device's busy fraction.</summary>
    public static readonly Counter<long> EarlyVerdictsSent = Meter.CreateCounter<long>("specedge.early_verdicts.sent", "{verdict}",
        "Early verdicts sent to edges half-way through verification (SpecEdge:EarlyVerdicts)");
    public static readonly Counter<long> ServerDraftSkipped = Meter.CreateCounter<long>("specedge.server_draft.skipped_steps", "{step}",
        "Server-decoded steps the device decoded plainly because its own drafting did not pay at the load of the moment");

    public static readonly Counter<long> HandBackSteps = Meter.CreateCounter<long>("specedge.hand_back.steps", "{step}",
        "Plain steps a session decoded on the server because its edge's loop did not pay (SpecEdge:HandBackSteps)");
    public static readonly Counter<long> PrefixReusedTokens = Meter.CreateCounter<long>("specedge.prefix_cache.reused_tokens", "{token}",
        "Prompt tokens whose keys and values a prefill copied from the device's prefix cache instead of computing");

    public static readonly Counter<double> DeviceBusy = Meter.CreateCounter<double>("specedge.device.busy", "s", "Time the device spent running forwards (rate = busy fraction)");

    /// <summary>Time to persist a session's state after one or more steps.</summary>
    public static readonly Histogram<double> StateWrite = Meter.CreateHistogram<double>("specedge.session.state_write.duration", "s", "Session state write of committed steps",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });

    /// <summary>
    /// Steps one state write made durable: 1 while storage keeps up with the steps; more when it is slower, since the
    /// steps committed during a write go out together in the next one.
    /// </summary>
    public static readonly Histogram<int> StepsPerWrite = Meter.CreateHistogram<int>("specedge.session.state_write.steps", "{step}", "Steps made durable by one state write",
        advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 3, 4, 6, 8, 12, 16, 32] });

    private static long _sessionsActive;
    private static readonly ConcurrentDictionary<string, (int QueueDepth, long KvBytes, long KvBudget)> Verifiers = new();

    static SpecEdgeMetrics()
    {
        Meter.CreateObservableUpDownCounter("specedge.sessions.active", () => Interlocked.Read(ref _sessionsActive), "{session}", "Session activations on this silo");
        Meter.CreateObservableGauge("specedge.verifier.queue.depth", () => Per(v => (long)v.QueueDepth), "{step}", "Steps waiting for the device");
        Meter.CreateObservableGauge("specedge.kv.bytes_in_use", () => Per(v => v.KvBytes), "By", "KV cache memory held by loaded sequences and the prefix cache");
        Meter.CreateObservableGauge("specedge.kv.bytes_budget", () => Per(v => v.KvBudget), "By", "KV cache budget (SpecEdge:KvMemoryMb)");
    }

    public static void SessionActivated() => Interlocked.Increment(ref _sessionsActive);

    public static void SessionDeactivated() => Interlocked.Decrement(ref _sessionsActive);

    /// <summary>A verifier's current queue and KV usage (reported on every change; removed when it deactivates).</summary>
    public static void ReportVerifier(string verifier, int queueDepth, long kvBytes, long kvBudget) => Verifiers[verifier] = (queueDepth, kvBytes, kvBudget);

    public static void ForgetVerifier(string verifier) => Verifiers.TryRemove(verifier, out _);

    private static IEnumerable<Measurement<long>> Per(Func<(int QueueDepth, long KvBytes, long KvBudget), long> value) =>
        Verifiers.Select(kv => new Measurement<long>(value(kv.Value), new KeyValuePair<string, object?>("verifier", kv.Key)));
}
