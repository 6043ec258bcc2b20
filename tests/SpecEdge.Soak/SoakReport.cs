namespace SpecEdge.Soak;

/// <summary>What a soak run counted and measured; printed as a table and written as JSON.</summary>
public sealed class SoakReport
{
    public long StartedUnixMs { get; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    public double Seconds { get; set; }
    public int Replies { get; set; }
    public long TokensCommitted { get; set; }
    public int Lost { get; set; }
    public int Duplicated { get; set; }
    public int Differing { get; set; }
    /// <summary>Edge steps drafted ahead on an early verdict (one silo sends them), and how many of those bets won.</summary>
    public int EarlyBets { get; set; }
    public int EarlyHits { get; set; }
    public int Unreadable { get; set; }
    /// <summary>Replies still being generated when the run ended: checked as prefixes of greedy, not counted as replies.</summary>
    public int Unfinished { get; set; }
    /// <summary>Replies that ended with an error (no assistant message): checked as prefixes of greedy, not counted as replies.</summary>
    public int EndedByError { get; set; }
    public int ChunkGaps { get; set; }
    public int HostileRequests { get; set; }
    public double HostilePerSecond { get; set; }
    public Dictionary<string, int> HostileOutcomes { get; set; } = new();
    public Dictionary<string, int> Errors { get; } = new();
    public List<string> Events { get; } = new();
    public List<string> Examples { get; } = new();
    public List<double> StepMsCalm { get; } = new();
    public List<double> StepMsUnderAttack { get; } = new();
    /// <summary>Steps of replies that ended during the warm-up or within 10 s after a kill: counted, not compared.</summary>
    public List<double> StepMsExcluded { get; } = new();
    public List<long> KillsUnixMs { get; } = new();
    public double SiloRssHighWaterMiB { get; set; }
    public long KvHighWaterBytes { get; set; }
    public long KvBudgetBytes { get; set; }
    [System.Text.Json.Serialization.JsonIgnore] public Dictionary<string, List<int[]>> Streamed { get; } = new();

    public void Error(string kind)
    {
        lock (Errors) Errors[kind] = Errors.GetValueOrDefault(kind) + 1;
    }

    public static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
    }

    public void Print()
    {
        Console.WriteLine();
        Console.WriteLine($"| soak ({Seconds:F0} s) | value |");
        Console.WriteLine("|---|---|");
        Console.WriteLine($"| honest replies checked | {Replies} |");
        Console.WriteLine($"| tokens committed (honest) | {TokensCommitted} |");
        Console.WriteLine($"| tokens lost | {Lost} |");
        Console.WriteLine($"| tokens duplicated | {Duplicated} |");
        Console.WriteLine($"| replies differing from target greedy | {Differing} |");
        Console.WriteLine($"| edge steps with an early verdict in time (won) | {EarlyBets} ({EarlyHits}) |");
        Console.WriteLine($"| conversations unreadable at the end | {Unreadable} |");
        Console.WriteLine($"| replies unfinished at the end (prefix of greedy checked) | {Unfinished} |");
        Console.WriteLine($"| replies ended by an error (prefix of greedy checked) | {EndedByError} |");
        Console.WriteLine($"| stream chunk gaps | {ChunkGaps} |");
        Console.WriteLine($"| honest edge step p50 / p99, calm (ms) | {Percentile(StepMsCalm, 0.5):F1} / {Percentile(StepMsCalm, 0.99):F1} ({StepMsCalm.Count} steps) |");
        Console.WriteLine($"| honest edge step p50 / p99, under attack (ms) | {Percentile(StepMsUnderAttack, 0.5):F1} / {Percentile(StepMsUnderAttack, 0.99):F1} ({StepMsUnderAttack.Count} steps) |");
        Console.WriteLine($"| p99 under attack / calm | {Percentile(StepMsUnderAttack, 0.99) / Percentile(StepMsCalm, 0.99):F2} |");
        Console.WriteLine($"| steps left out (warm-up, 10 s after a kill): p50 / p99 (ms) | {Percentile(StepMsExcluded, 0.5):F1} / {Percentile(StepMsExcluded, 0.99):F1} ({StepMsExcluded.Count} steps) |");
        Console.WriteLine($"| hostile requests | {HostileRequests} ({HostilePerSecond:F1}/s) |");
        Console.WriteLine($"| KV high-water / budget (MB) | {KvHighWaterBytes / 1048576.0:F1} / {KvBudgetBytes / 1048576.0:F0} |");
        Console.WriteLine($"| silo RSS high-water (MiB) | {SiloRssHighWaterMiB:F0} |");
        foreach (var e in Events) Console.WriteLine($"event: {e}");
        foreach (var (kind, n) in Errors.OrderBy(kv => kv.Key)) Console.WriteLine($"error seen by honest callers: {kind} x{n}");
        foreach (var (kind, n) in HostileOutcomes.OrderBy(kv => kv.Key)) Console.WriteLine($"hostile: {kind} x{n}");
        foreach (var x in Examples.Take(10)) Console.WriteLine($"example (an error an honest caller saw, or a difference): {x}");
    }
}
