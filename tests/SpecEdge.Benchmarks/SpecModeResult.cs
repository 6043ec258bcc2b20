namespace SpecEdge.Benchmarks;

/// <summary>
/// One row of the speculative-decoding table: a measured <see cref="SpecRun"/> read under one deployment (target-only,
/// server-only SD, edge-assisted SD). Server-only SD and edge-assisted SD without proactive drafting do the same work,
/// so they read the SAME run: the comparison between them is pure accounting, free of run-to-run noise.
///
/// Latency model (emulated, nothing sleeps). Per target step s with b_s active sequences and verify time V_s, every
/// active user waits T_s, and inter-token latency = sum_s b_s * T_s / tokens generated:
///   target-only AR:         T_s = V_s
///   server-only SD:         T_s = sum over the batch of draft_i + V_s             (drafts run one after another on the server)
///   edge-assisted SD:       T_s = max_i draft_i + RTT + V_s                       (each edge drafts on its own device; the batch waits for the slowest)
///   edge-assisted proactive T_s = max_i (draft_i + max(RTT + V_s, predraft_i))    (pre-drafting overlaps the round trip and the verify;
///                                                                                 draft_i is small on a hit, predraft_i shows only if it outlasts them)
/// draft_i is the time to build sequence i's tree before sending (DecodeTimings.DraftLatencies), predraft_i its
/// pre-draft time (PreDraftLatencies). Target prefill of the prompt is outside all timings, in every mode.
/// </summary>
public sealed record SpecModeResult(string Mode, DraftPlacement Placement, SpecRun Run)
{
    public const double ServerDollarsPerHour = 5.05, EdgeDollarsPerHour = 0.35;

    public int Batch => Run.Batch;
    /// <summary>The mode, with the draft and tree variant when a run compares several.</summary>
    public string Label => Run.Variant.Length == 0 || Placement == DraftPlacement.None ? Mode : $"{Mode} [{Run.Variant}]";
    public int Tokens => Run.Tokens;
    public double TokensPerForward => (double)Tokens / Run.SequenceForwards;

    /// <summary>Accepted draft tokens per step, bonus excluded (the last step of a sequence may be cut by the token limit).</summary>
    public double? AcceptedLength => Placement == DraftPlacement.None ? null : TokensPerForward - 1;

    /// <summary>Target compute: for edge-assisted modes the replay without the draft (its server never runs one), else as run.</summary>
    public double TargetSeconds => Placement == DraftPlacement.Edge && Run.Replay is { } replay ? replay.Seconds : Run.Timings.TargetSeconds;
    public double DraftSeconds => Run.Timings.DraftSeconds;
    public double ServerSeconds => TargetSeconds + (Placement == DraftPlacement.Server ? DraftSeconds : 0);
    public double EdgeSeconds => Placement == DraftPlacement.Edge ? DraftSeconds : 0;
    public double ServerThroughput => Tokens / ServerSeconds;
    public double DollarsPerMillionTokens =>
        (ServerSeconds * ServerDollarsPerHour + EdgeSeconds * EdgeDollarsPerHour) / 3600 / Tokens * 1e6;
    public double? ProactiveHitRate => Run.ProactiveHits + Run.ProactiveMisses == 0
        ? null : (double)Run.ProactiveHits / (Run.ProactiveHits + Run.ProactiveMisses);

    /// <summary>Inter-token latency in milliseconds as one user sees it, under the model in the type's summary.</summary>
    public double InterTokenLatencyMs(double rttMs)
    {
        var t = Run.Timings;
        double rtt = rttMs / 1000, userSeconds = 0;
        int next = 0;   // DraftLatencies / PreDraftLatencies hold b_s entries per step, in step order
        var replayed = Placement == DraftPlacement.Edge ? Run.Replay?.StepSeconds : null;
        for (int s = 0; s < t.Steps.Count; s++)
        {
            var (batch, measured) = t.Steps[s];
            double verify = replayed?[s] ?? measured;
            double step = verify;
            if (Placement == DraftPlacement.Server)
                step += Enumerable.Range(next, batch).Sum(i => t.DraftLatencies[i]);
            else if (Placement == DraftPlacement.Edge)
                step = Enumerable.Range(next, batch).Max(i =>
                    t.DraftLatencies[i] + Math.Max(rtt + verify, t.PreDraftLatencies.Count > 0 ? t.PreDraftLatencies[i] : 0));
            if (Placement != DraftPlacement.None) next += batch;
            userSeconds += batch * step;
        }
        if (Placement != DraftPlacement.None && next != t.DraftLatencies.Count)
            throw new InvalidOperationException($"Draft latencies ({t.DraftLatencies.Count}) do not match the steps' batches ({next}).");
        return userSeconds / Tokens * 1000;
    }
}
