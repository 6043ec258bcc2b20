namespace SpecEdge.Benchmarks.E2e;

/// <summary>The end-to-end benchmark's tables (markdown, as docs/benchmarks/e2e.md quotes them).</summary>
public static class E2eTable
{
    public static void PrintCells(List<E2eCell> cells)
    {
        Console.WriteLine();
        Console.WriteLine("| RTT ms | mode | sessions | tokens | tokens/s per session | ITL p50 ms | ITL p95 ms | TTFT p50 ms | server busy s / 1k tokens | mean batch | bytes up / step | bytes down / step | idle fraction | proactive hits | early verdict hits |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
        foreach (var c in cells)
            Console.WriteLine($"| {c.RttMs} | {c.Mode} | {c.Sessions} | {c.Tokens} | {c.TokensPerSecondPerSession:F1} | {c.ItlP50Ms:F1} | {c.ItlP95Ms:F1} | {c.TtftP50Ms:F0} | {c.ServerBusySecondsPer1kTokens:F2} | {c.MeanBatch:F2} | {c.BytesUpPerStep:F0} | {c.BytesDownPerStep:F0} | {Percent(c.IdleFraction)} | {c.ProactiveHits} | {c.EarlyHits} |");
        Console.WriteLine();
        Console.WriteLine("Edge steps, p50 ms per part (upload/download from both sides' timestamps, same clock; persist = commit incl. waiting for the previous write):");
        Console.WriteLine("| RTT ms | mode | " + string.Join(" | ", E2eCell.Parts) + " | proxy one-way ms |");
        Console.WriteLine("|---:|---|" + string.Concat(E2eCell.Parts.Select(_ => "---:|")) + "---:|");
        foreach (var c in cells.Where(c => c.BreakdownP50Ms.Count > 0))
            Console.WriteLine($"| {c.RttMs} | {c.Mode} | " + string.Join(" | ", E2eCell.Parts.Select(p => c.BreakdownP50Ms.TryGetValue(p, out var v) ? v.ToString("F2") : "-")) + $" | {c.ProxyAddedOneWayMs:F2} |");
    }

    public static void PrintPipeline(List<E2eCell> cells, double draftMs)
    {
        Console.WriteLine();
        Console.WriteLine($"Pipeline: {cells.FirstOrDefault()?.Sessions} edges, RTT {cells.FirstOrDefault()?.RttMs} ms, emulated draft {draftMs} ms");
        Console.WriteLine("| batching | tokens | aggregate tokens/s | tokens/s per session | ITL p50 ms | mean batch | idle fraction | idle, steady window | queue p50 ms | verify p50 ms | gap between forwards p50 ms | cores busy: machine / silo |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var c in cells)
            Console.WriteLine($"| {c.Mode} | {c.Tokens} | {c.AggregateTokensPerSecond:F1} | {c.TokensPerSecondPerSession:F1} | {c.ItlP50Ms:F1} | {c.MeanBatch:F2} | {Percent(c.IdleFraction)} | {Percent(c.SteadyIdleFraction)} | {c.BreakdownP50Ms.GetValueOrDefault("queue"):F2} | {c.BreakdownP50Ms.GetValueOrDefault("verify"):F2} | {c.ForwardGapP50Ms:F2} | {c.MachineCores:F2} / {c.SiloCores:F2} |");
        var wc = cells.Where(c => c.Mode == "work-conserving").ToList();
        var pa = cells.Where(c => c.Mode == "pipeline-aware").ToList();
        if (wc.Count > 0 && pa.Count > 0)
            Console.WriteLine($"pipeline-aware / work-conserving aggregate throughput: x{pa.Average(c => c.AggregateTokensPerSecond) / wc.Average(c => c.AggregateTokensPerSecond):F2} (mean over {pa.Count} round(s) each); " +
                $"idle {Percent(wc.Average(c => c.IdleFraction))} vs {Percent(pa.Average(c => c.IdleFraction))}, steady window {Percent(wc.Average(c => c.SteadyIdleFraction))} vs {Percent(pa.Average(c => c.SteadyIdleFraction))}");
    }

    private static string Percent(double fraction) => double.IsNaN(fraction) ? "-" : $"{fraction * 100:F1} %";
}
