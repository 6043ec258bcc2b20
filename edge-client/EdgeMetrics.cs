using System.Diagnostics.Metrics;

namespace SpecEdge.EdgeClient;

/// <summary>
/// What an edge sees of its own work, as .NET metrics (meter <see cref="MeterName"/>): tokens received, steps, draft
/// tree size, tokens per step, round trip per step (tree sent -> verdict) and draft time, and resynchronisations.
/// Recorded by <see cref="EdgeSession"/>; the edge host exports them (Prometheus, <c>--metrics</c>), and any other host of
/// the library can collect them with OpenTelemetry or a <see cref="MeterListener"/>.
/// </summary>
public static class EdgeMetrics
{
    public const string MeterName = "SpecEdge.Edge";
    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> Tokens = Meter.CreateCounter<long>("specedge_edge_tokens", description: "Tokens committed through this edge's steps (rate = tokens/s).");
    public static readonly Counter<long> Steps = Meter.CreateCounter<long>("specedge_edge_steps", description: "Verified steps of this edge's trees.");
    public static readonly Counter<long> Resyncs = Meter.CreateCounter<long>("specedge_edge_resyncs", description: "Steps lost or refused, after which the edge re-attached.");
    public static readonly Histogram<int> TreeNodes = Meter.CreateHistogram<int>("specedge_edge_tree_nodes", description: "Nodes of each tree sent, root included.");
    public static readonly Histogram<int> TokensPerStep = Meter.CreateHistogram<int>("specedge_edge_tokens_per_step", description: "Accepted draft tokens plus the bonus token, per step.");
    public static readonly Histogram<double> StepMilliseconds = Meter.CreateHistogram<double>("specedge_edge_step_ms", unit: "ms", description: "Round trip of a step: tree sent to verdict received.");
    public static readonly Histogram<double> DraftMilliseconds = Meter.CreateHistogram<double>("specedge_edge_draft_ms", unit: "ms", description: "Time drafting one tree on this device (not hidden behind a round trip).");
}
