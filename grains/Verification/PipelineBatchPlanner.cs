namespace SpecEdge.Grains.Verification;

/// <summary>
/// Pipeline-aware batching (the SpecEdge paper's pipeline-aware scheduling): decides how many edge trees the next forward may
/// take so that the device keeps working while the other edges draft and their trees travel.
/// <para>
/// Work-conserving batching has an absorbing state: once the edges' trees arrive together they are verified together,
/// come back together, and the device idles for the whole edge turnaround (verdict out, draft, tree in) every step.
/// This planner learns that turnaround (time from a session's verdict to its next tree, per session) and the forward cost
/// as a function of batch size (a least-squares line over recent forwards), and splits the active edge sessions into
/// the number of groups G (1..<see cref="MaxGroups"/>) that maximises the modelled throughput: G groups take turns on
/// the device, so a cycle lasts max(G · forward(S/G), forward(S/G) + turnaround). G = 1 is work-conserving batching;
/// a split is taken only if it beats fewer groups by <see cref="MinGain"/>. It never delays work: the device still runs
/// as soon as anything waits; it only leaves some trees for the next forward. Pure bookkeeping, no model or tensors:
/// driven by the verifier grain and testable with hand-made figures.
/// </para>
/// </summary>
public sealed class PipelineBatchPlanner
{
    /// <summary>Most groups the edges are split into.</summary>
    public int MaxGroups { get; init; } = 4;
    /// <summary>A split must shorten the modelled cycle by this fraction over fewer groups to be taken.</summary>
    public double MinGain { get; init; } = 0.05;
    /// <summary>Weight of a new turnaround sample in the running average.</summary>
    public double Smoothing { get; init; } = 0.2;

    private readonly Dictionary<string, DateTime> _lastEvent = new();
    private readonly Dictionary<string, DateTime> _verdictAt = new();
    private readonly Dictionary<string, double> _turnaround = new();
    private readonly RecentWindow<(int Items, double Ms)> _forwards = new(64);
    private double _median = double.NaN;
    private bool _medianStale;

    /// <summary>
    /// The typical edge turnaround in milliseconds (verdict out -> next tree in): the median of the sessions' own averages,
    /// so that a few slow or hostile edges, however slow, do not move what the device plans every other edge by. The last
    /// median stands while no session is known; NaN until measured.
    /// </summary>
    public double TurnaroundMs
    {
        get
        {
            if (!_medianStale) return _median;
            _medianStale = false;
            if (_turnaround.Count == 0) return _median;
            var sorted = _turnaround.Values.Order().ToArray();
            int mid = sorted.Length / 2;
            return _median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        }
    }

    /// <summary>
    /// The turnaround of <paramref name="sessionId"/>'s own edge (its running average), or <see cref="TurnaroundMs"/> before
    /// that edge has been measured: what the session's own loop costs it, whatever the other edges take.
    /// </summary>
    public double TurnaroundOf(string sessionId) => _turnaround.TryGetValue(sessionId, out var ms) ? ms : TurnaroundMs;

    /// <summary>An edge's tree for <paramref name="sessionId"/> was queued: a turnaround sample if its previous verdict is known.</summary>
    public void OnTreeQueued(string sessionId, DateTime at)
    {
        if (_verdictAt.Remove(sessionId, out var verdict))
        {
            double ms = (at - verdict).TotalMilliseconds;
            // A pause longer than a few seconds is a user, a new turn or a lost edge, not the edge's pipeline.
            if (ms >= 0 && ms < 5000)
            {
                _turnaround[sessionId] = _turnaround.TryGetValue(sessionId, out var mean) ? mean + Smoothing * (ms - mean) : ms;
                _medianStale = true;
            }
        }
        _lastEvent[sessionId] = at;
    }

    /// <summary>A verdict for an edge's tree left the device; a finished reply leaves the pipeline (its edge's turnaround stays known).</summary>
    public void OnVerdict(string sessionId, DateTime at, bool finished)
    {
        if (finished) { Leave(sessionId); return; }
        _verdictAt[sessionId] = at;
        _lastEvent[sessionId] = at;
    }

    /// <summary>
    /// The server decoded a step of <paramref name="sessionId"/> itself (a hand-back's run): the edge waits for the run's
    /// verdict, so its turnaround counts from the run's last step, not from its last tree's verdict. Counted from there,
    /// each run would add its length to the edge's turnaround, and a session once handed back would price its edge ever
    /// dearer.
    /// </summary>
    public void OnServerStep(string sessionId, DateTime at)
    {
        if (!_verdictAt.ContainsKey(sessionId)) return;
        _verdictAt[sessionId] = at;
        _lastEvent[sessionId] = at;
    }

    /// <summary>The session left the device: everything about it, its edge's turnaround too.</summary>
    public void Forget(string sessionId)
    {
        Leave(sessionId);
        if (_turnaround.Remove(sessionId)) _medianStale = true;
    }

    /// <summary>The session left the pipeline (its reply finished, or it went quiet); its edge's turnaround stays known for its next reply.</summary>
    private void Leave(string sessionId)
    {
        _lastEvent.Remove(sessionId);
        _verdictAt.Remove(sessionId);
    }

    /// <summary>A forward of <paramref name="items"/> items took <paramref name="ms"/> milliseconds.</summary>
    public void OnForward(int items, double ms)
    {
        _forwards.Add((items, ms));
        _line = null;
    }

    /// <summary>The cost line over the window (fitted once per forward, when first asked: the grain consults it per batch).</summary>
    private (double Intercept, double Slope, double MeanMs, bool SizesVary)? _line;

    private (double Intercept, double Slope, double MeanMs, bool SizesVary)? Line()
    {
        if (_line is not null) return _line;
        var f = _forwards.ToArray();
        if (f.Length == 0) return null;
        double meanN = f.Average(x => x.Items), meanMs = f.Average(x => x.Ms);
        double sxx = f.Sum(x => (x.Items - meanN) * (x.Items - meanN));
        double slope = sxx > 0 ? f.Sum(x => (x.Items - meanN) * (x.Ms - meanMs)) / sxx : 0;
        return _line = (Math.Max(0, meanMs - slope * meanN), slope, meanMs, sxx > 0);
    }

    /// <summary>Edge sessions in the pipeline: seen (verdict or tree) within a few turnarounds.</summary>
    public int ActiveSessions(DateTime now)
    {
        var horizon = TimeSpan.FromMilliseconds(Math.Max(1000, 4 * (double.IsNaN(TurnaroundMs) ? 0 : TurnaroundMs)));
        foreach (var stale in _lastEvent.Where(e => now - e.Value > horizon).Select(e => e.Key).ToList()) Leave(stale);
        return _lastEvent.Count;
    }

    /// <summary>Modelled forward time of a batch of <paramref name="items"/> (ms): a line fitted to recent forwards.</summary>
    public double ForwardMs(int items)
    {
        if (Line() is not { } line) return double.NaN;
        // Batches of one size only, or noise that says bigger is cheaper: assume the cost does not depend on the size.
        return line.Slope <= 0 ? line.MeanMs : line.Intercept + line.Slope * items;
    }

    /// <summary>How many groups the <paramref name="sessions"/> active edge sessions should form (1: no split).</summary>
    public int Groups(int sessions)
    {
        if (sessions < 2 || double.IsNaN(TurnaroundMs) || double.IsNaN(ForwardMs(1))) return 1;
        int best = 1;
        double bestCycle = Cycle(sessions, 1);
        for (int g = 2; g <= Math.Min(MaxGroups, sessions); g++)
        {
            double cycle = Cycle(sessions, g);
            if (cycle < bestCycle * (1 - MinGain)) { best = g; bestCycle = cycle; }
        }
        return best;
    }

    /// <summary>
    /// Whether the recent forwards had more than one batch size: only then does the cost line have a slope. Edges stuck
    /// in work-conserving batching's absorbing state produce forwards of one size only, the very state a split is for.
    /// </summary>
    public bool CostSlopeKnown => Line() is { SizesVary: true };

    /// <summary>Most edge trees the next forward should take, given the device's own limit.</summary>
    public int EdgeTreeLimit(DateTime now, int maxBatch)
    {
        int sessions = ActiveSessions(now);
        // Every recent forward had the same size, so whether a smaller one is cheaper is unknown: probe with half. One
        // forward of another size puts a slope in the line; a flat (GPU-like) cost then keeps one group again.
        if (sessions >= 2 && !double.IsNaN(TurnaroundMs) && _forwards.Total > 0 && !CostSlopeKnown)
            return Math.Min(maxBatch, (sessions + 1) / 2);
        int groups = Groups(sessions);
        return groups == 1 ? maxBatch : Math.Min(maxBatch, (sessions + groups - 1) / groups);
    }

    /// <summary>Modelled time for every session to get one step done with <paramref name="groups"/> groups taking turns.</summary>
    private double Cycle(int sessions, int groups)
    {
        double forward = ForwardMs((sessions + groups - 1) / groups);
        return Math.Max(groups * forward, forward + TurnaroundMs);
    }
}
