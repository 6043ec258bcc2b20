using System.Globalization;
using System.Text;

namespace SpecEdge.Benchmarks;

/// <summary>The printed form of the speculative-decoding benchmark: a markdown table with its legend, and the headline ratios.</summary>
public static class SpecTable
{
    public static string Render(IReadOnlyList<SpecModeResult> rows, IReadOnlyList<int> rtts)
    {
        var s = new StringBuilder();
        s.Append("| batch | mode | tok/target fwd | accepted/step | nodes/tree | target s/1k tok | draft s/1k tok | server s/1k tok | server tok/s | $/M tok |");
        foreach (int rtt in rtts) s.Append(CultureInfo.InvariantCulture, $" ITL ms @{rtt} ms RTT |");
        s.AppendLine();
        s.Append("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var _ in rtts) s.Append("---:|");
        s.AppendLine();
        foreach (var r in rows)
        {
            s.Append(CultureInfo.InvariantCulture,
                $"| {r.Batch} | {r.Label} | {r.TokensPerForward:F2} | {(r.AcceptedLength is double a ? a.ToString("F2", CultureInfo.InvariantCulture) : "-")} | " +
                $"{(r.Placement == DraftPlacement.None ? "-" : r.Run.MeanTreeNodes.ToString("F1", CultureInfo.InvariantCulture))} | " +
                $"{r.TargetSeconds / r.Tokens * 1000:F3} | {(r.Placement == DraftPlacement.None ? "-" : (r.DraftSeconds / r.Tokens * 1000).ToString("F3", CultureInfo.InvariantCulture))} | " +
                $"{r.ServerSeconds / r.Tokens * 1000:F3} | {r.ServerThroughput:F0} | {r.DollarsPerMillionTokens:F3} |");
            foreach (int rtt in rtts) s.Append(CultureInfo.InvariantCulture, $" {r.InterTokenLatencyMs(rtt):F2} |");
            s.AppendLine();
        }
        s.AppendLine();
        s.AppendLine("Legend: tok/target fwd = generated tokens / target forwards a sequence took part in; accepted/step = that minus the bonus token;");
        s.AppendLine("nodes/tree = mean draft nodes (besides the root) per tree verified.");
        s.AppendLine("target/draft s/1k tok = measured compute (wall clock) per 1000 generated tokens. server seconds = target compute, plus draft");
        s.AppendLine("compute for server-only SD; server tok/s = tokens / server seconds. $/M tok = (server s x 5.05 $/h + edge s x 0.35 $/h) per");
        s.AppendLine("million tokens (edge s = draft compute for edge-assisted modes, else 0). server-only SD and edge-assisted SD read the same run.");
        s.AppendLine("ITL (emulated, per step s with b_s active sequences, verify time V_s; ITL = sum_s b_s*T_s / tokens):");
        s.AppendLine("  AR: T_s = V_s;  server-only SD: T_s = sum_i draft_i + V_s (drafts sequential on the server);");
        s.AppendLine("  edge SD: T_s = max_i draft_i + RTT + V_s (edges draft in parallel);");
        s.AppendLine("  edge SD + proactive: T_s = max_i (draft_i + max(RTT + V_s, predraft_i)) (pre-drafting overlaps RTT + verify).");
        return s.ToString();
    }

    public static string Headline(IReadOnlyList<SpecModeResult> rows)
    {
        var s = new StringBuilder("Headline (edge-assisted over server-only SD):\n");
        foreach (var group in rows.Where(r => r.Placement != DraftPlacement.None).GroupBy(r => (r.Batch, r.Run.Variant)))
        {
            var baseline = group.Single(r => r.Mode == "server-only SD");
            var edge = group.Single(r => r.Mode == "edge-assisted SD");
            var proactive = group.SingleOrDefault(r => r.Mode == "edge-assisted SD + proactive");
            string variant = group.Key.Variant.Length == 0 ? "" : $" [{group.Key.Variant}]";
            var ic = CultureInfo.InvariantCulture;
            string line = $"  batch {group.Key.Batch}{variant}: server throughput x{(edge.ServerThroughput / baseline.ServerThroughput).ToString("F2", ic)}";
            if (proactive is not null) line += $" (proactive x{(proactive.ServerThroughput / baseline.ServerThroughput).ToString("F2", ic)})";
            line += $", tokens per dollar x{(baseline.DollarsPerMillionTokens / edge.DollarsPerMillionTokens).ToString("F2", ic)}";
            if (proactive is not null)
                line += $" (proactive x{(baseline.DollarsPerMillionTokens / proactive.DollarsPerMillionTokens).ToString("F2", ic)}), " +
                    $"proactive hit rate {proactive.ProactiveHitRate?.ToString("P1", ic)}";
            s.AppendLine(line);
        }
        return s.ToString();
    }
}
