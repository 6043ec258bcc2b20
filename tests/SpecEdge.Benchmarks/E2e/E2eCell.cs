using System.Text.Json;

namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// What one (mode, round trip) cell of the end-to-end benchmark measured, computed from the JSON lines the bench-mode
/// edge processes printed (one per reply), the verifier's forwards during the cell and the proxy's byte counts.
/// Tokens arrive at the user per step (edge: a verdict shown; server decoding: a streamed chunk); a step of k tokens
/// after a gap g counts as k inter-token latencies of g/k. TTFT: message sent -> first tokens shown.
/// </summary>
public sealed class E2eCell
{
    public string Mode { get; init; } = "";
    public int RttMs { get; init; }
    public int Sessions { get; set; }
    public int Replies { get; set; }
    public int Tokens { get; set; }
    public int Steps { get; set; }
    public double TokensPerSecondPerSession { get; set; }
    public double AggregateTokensPerSecond { get; set; }
    public double ItlP50Ms { get; set; }
    public double ItlP95Ms { get; set; }
    public double TtftP50Ms { get; set; }
    public double ServerBusySecondsPer1kTokens { get; set; }
    public double MeanBatch { get; set; }
    public double BytesUpPerStep { get; set; }
    public double BytesDownPerStep { get; set; }
    public double ProxyAddedOneWayMs { get; set; }
    public double IdleFraction { get; set; } = double.NaN;
    /// <summary>
    /// The idle fraction over the steady window only: from the moment the last reply sent its first tree to the moment the
    /// first reply got its last verdict, i.e. while every edge of the cell is in its step loop (no start-up, no tail of
    /// stragglers alone, where no schedule can keep the device busy).
    /// </summary>
    public double SteadyIdleFraction { get; set; } = double.NaN;
    public string ProactiveHits { get; set; } = "";
    /// <summary>Early verdicts that came before their verdict and were confirmed by it / all that came in time ("" without early verdicts).</summary>
    public string EarlyHits { get; set; } = "";
    /// <summary>Edge modes: p50 per step of each part of a step (ms), in the order draft, upload, queue, verify, persist, session other, download, display.</summary>
    public Dictionary<string, double> BreakdownP50Ms { get; set; } = new();
    public List<string> Errors { get; set; } = new();
    /// <summary>Cores busy on the whole machine, and in the verifying silo's process, on average over the cell (go -> last edge process exited).</summary>
    public double MachineCores { get; init; } = double.NaN;
    public double SiloCores { get; init; } = double.NaN;
    /// <summary>Gaps between a forward's end and the next forward's start when the next follows within 5 ms (the device loop's own turn), p50 ms.</summary>
    public double ForwardGapP50Ms { get; set; } = double.NaN;

    /// <summary>The edges' turnaround the verifier planned and priced with at the cell's end (VerifierStats.EdgeTurnaroundMs).</summary>
    public double EdgeTurnaroundMs { get; set; } = double.NaN;

    /// <summary>With <c>--slow-edge-ms</c>: the other edges' sessions and the slow edge's, reported apart.</summary>
    public SlowNeighbour? BesideSlowEdge { get; set; }

    /// <summary>What the sessions of the ordinary edges got beside one whose drafting takes <paramref name="DraftMs"/> a step, and what that one got.</summary>
    public sealed record SlowNeighbour(double DraftMs, double TokensPerSecondPerSession, double ItlP50Ms, double ItlP95Ms, int Steps, int Tokens,
        double SlowTokensPerSecondPerSession, int SlowSteps, int SlowTokens);

    // Per-step samples the simulator is calibrated with (PipelinePrediction); not written to the JSON.
    [System.Text.Json.Serialization.JsonIgnore] public List<int> StepTokens { get; } = new();
    /// <summary>Upload + download of each edge step (ms): the wire as the edges saw it, proxy overshoot and wake-ups included.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public List<double> WireMs { get; } = new();
    /// <summary>The verifier's forwards within the cell: items, ms.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public List<(int Batch, double Ms)> Forwards { get; } = new();
    /// <summary>The session's own handling + display of each edge step (ms): edge turnaround that is neither draft nor wire.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public List<double> HandlingMs { get; } = new();

    public static readonly string[] Parts = { "draft", "upload", "queue", "verify", "persist", "session", "download", "display" };

    /// <summary>Computes the cell from the edge processes' reply lines and the verifier's forwards (start µs, ms, batch size) of the cell.</summary>
    public void Compute(IEnumerable<string> lines, IReadOnlyList<(long StartUs, double Ms, int Batch)> forwards, long bytesUp, long bytesDown)
    {
        var itl = new List<double>();
        var ttft = new List<double>();
        var perSession = new List<double>();
        var parts = Parts.ToDictionary(p => p, _ => new List<double>());
        var outstanding = new List<(long, long)>();
        long steadyFrom = long.MinValue, steadyTo = long.MaxValue;
        long first = long.MaxValue, last = long.MinValue;
        int hits = 0, bets = 0, earlyHits = 0, earlyBets = 0;
        foreach (var line in lines)
        {
            if (!line.StartsWith('{')) continue;
            using var json = JsonDocument.Parse(line);
            var r = json.RootElement;
            if (r.TryGetProperty("error", out var error)) { Errors.Add(error.GetString()!); continue; }
            if (!r.TryGetProperty("session", out _)) continue;
            Replies++;
            int tokens = r.GetProperty("tokens").GetInt32();
            Tokens += tokens;
            double wallMs = r.GetProperty("wallMs").GetDouble();
            perSession.Add(tokens / (wallMs / 1000));
            ttft.Add(r.GetProperty("ttftMs").GetDouble());
            long sendAt = r.GetProperty("sendAt").GetInt64();
            first = Math.Min(first, sendAt);
            last = Math.Max(last, sendAt + (long)(wallMs * 1000));
            if (r.TryGetProperty("proactiveHits", out var h)) { hits += h.GetInt32(); bets += r.GetProperty("proactiveBets").GetInt32(); }
            if (r.TryGetProperty("earlyHits", out var eh)) { earlyHits += eh.GetInt32(); earlyBets += r.GetProperty("earlyVerdicts").GetInt32(); }
            var arrivals = new List<(long At, int Tokens)>();
            if (r.TryGetProperty("steps", out var steps))
            {
                if (steps.GetArrayLength() > 0)
                {
                    steadyFrom = Math.Max(steadyFrom, steps[0].GetProperty("sent").GetInt64());
                    steadyTo = Math.Min(steadyTo, steps[steps.GetArrayLength() - 1].GetProperty("verdict").GetInt64());
                }
                foreach (var s in steps.EnumerateArray())
                {
                    Steps++;
                    long sent = s.GetProperty("sent").GetInt64(), verdict = s.GetProperty("verdict").GetInt64();
                    double display = s.GetProperty("displayMs").GetDouble();
                    arrivals.Add((verdict + (long)(display * 1000), s.GetProperty("tokens").GetInt32()));
                    outstanding.Add((sent, verdict));
                    StepTokens.Add(s.GetProperty("tokens").GetInt32());
                    parts["draft"].Add(s.GetProperty("draftMs").GetDouble());
                    parts["display"].Add(display);
                    if (s.GetProperty("received").ValueKind != JsonValueKind.Number) continue;
                    long received = s.GetProperty("received").GetInt64();
                    int queue = s.GetProperty("queueUs").GetInt32(), verify = s.GetProperty("verifyUs").GetInt32();
                    int persist = s.GetProperty("persistUs").GetInt32(), session = s.GetProperty("sessionUs").GetInt32();
                    parts["upload"].Add((received - sent) / 1000.0);
                    parts["queue"].Add(queue / 1000.0);
                    parts["verify"].Add(verify / 1000.0);
                    parts["persist"].Add(persist / 1000.0);
                    parts["session"].Add((session - queue - verify - persist) / 1000.0);
                    parts["download"].Add((verdict - received - session) / 1000.0);
                    WireMs.Add((received - sent + verdict - received - session) / 1000.0);
                    HandlingMs.Add((session - queue - verify - persist) / 1000.0 + display);
                }
            }
            else
            {
                foreach (var c in r.GetProperty("chunks").EnumerateArray())
                {
                    Steps++;
                    arrivals.Add((c.GetProperty("at").GetInt64(), c.GetProperty("tokens").GetInt32()));
                }
            }
            var shown = arrivals.Where(a => a.Tokens > 0).ToList();
            for (int i = 1; i < shown.Count; i++)
                for (int k = 0; k < shown[i].Tokens; k++) itl.Add((shown[i].At - shown[i - 1].At) / 1000.0 / shown[i].Tokens);
        }
        var inCell = forwards.Where(f => f.StartUs >= first && f.StartUs <= last).ToList();
        Forwards.AddRange(inCell.Select(f => (f.Batch, f.Ms)));
        TokensPerSecondPerSession = perSession.Count == 0 ? double.NaN : perSession.Average();
        AggregateTokensPerSecond = last > first ? Tokens / ((last - first) / 1e6) : double.NaN;
        ItlP50Ms = Percentile.Of(itl, 50);
        ItlP95Ms = Percentile.Of(itl, 95);
        TtftP50Ms = Percentile.Of(ttft, 50);
        ServerBusySecondsPer1kTokens = Tokens == 0 ? double.NaN : inCell.Sum(f => f.Ms) / 1000 / Tokens * 1000;
        MeanBatch = inCell.Count == 0 ? double.NaN : inCell.Average(f => f.Batch);
        BytesUpPerStep = Steps == 0 ? double.NaN : (double)bytesUp / Steps;
        BytesDownPerStep = Steps == 0 ? double.NaN : (double)bytesDown / Steps;
        ProactiveHits = bets == 0 ? "" : $"{hits}/{bets}";
        EarlyHits = earlyBets == 0 ? "" : $"{earlyHits}/{earlyBets}";
        if (outstanding.Count > 0)
        {
            var busy = inCell.Select(f => (f.StartUs, f.StartUs + (long)(f.Ms * 1000))).ToList();
            IdleFraction = DeviceIdleFraction.Of(outstanding, busy).Fraction;
            if (steadyTo > steadyFrom)
                SteadyIdleFraction = DeviceIdleFraction.Of(outstanding.Select(o => (Math.Max(o.Item1, steadyFrom), Math.Min(o.Item2, steadyTo))).Where(o => o.Item2 > o.Item1).ToList(), busy).Fraction;
        }
        foreach (var (part, values) in parts) if (values.Count > 0) BreakdownP50Ms[part] = Percentile.Of(values, 50);
        var gaps = inCell.Zip(inCell.Skip(1), (a, b) => (b.StartUs - a.StartUs - a.Ms * 1000) / 1000).Where(g => g is >= 0 and < 5).ToList();
        if (gaps.Count > 0) ForwardGapP50Ms = Percentile.Of(gaps, 50);
    }
}
