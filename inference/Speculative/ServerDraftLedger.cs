namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What the server's own drafting brings and costs on one device, learnt from its recent drafting: the mean tokens each
/// of the last <see cref="Window"/> drafted steps committed and the mean nodes of their trees verified, and the line
/// (fixed + per tree) that the last <see cref="Window"/> drafting passes' times follow. The verifier prices server
/// drafting with it (<see cref="GoodputCut.ServerDraftingPays"/>): a server that drafts only when it pays, and a
/// hand-back that drafts when the server's own speculation beats the edge's loop. Device-wide, not per session: a
/// draft's cost does not depend on whose tree it is, and its acceptance moves slowly enough for a mean over recent steps.
/// <para>
/// The pass times are taken as a median per number of trees, because a device's first drafts (kernel compilation,
/// caches) can take many times what the rest do, and a mean of them would switch drafting off for good on a device where
/// it pays. With passes of one size only, the whole time is counted per tree (no fixed part): a device seen drafting one
/// tree at a time is assumed to pay as much again for each more, until a pass of another size shows what batching saves.
/// While drafting does not pay nothing new comes in, except from the verifier's occasional probe
/// (<see cref="TreeTrimmer.ServerDraftProbeEvery"/>), which drafts for every server step of its forward. Not thread-safe:
/// its owner serialises it.
/// </para>
/// </summary>
public sealed class ServerDraftLedger
{
    /// <summary>Server-drafted steps seen before the figures are trusted.</summary>
    public const int MinSteps = 8;
    /// <summary>Recent steps, and recent passes, the figures are taken over.</summary>
    public const int Window = 32;

    private readonly Queue<(int Nodes, int Tokens)> _steps = new();
    private readonly Queue<(int Trees, double Ms)> _passes = new();
    private ServerDraftCost? _current;

    /// <summary>Server-drafted steps seen in all.</summary>
    public int Steps { get; private set; }

    /// <summary>The figures, once <see cref="MinSteps"/> steps and a pass were seen; null before.</summary>
    public ServerDraftCost? Current => Steps < MinSteps || _passes.Count == 0 ? null : _current ??= Fit();

    /// <summary>One drafting pass drafted <paramref name="trees"/> trees in <paramref name="ms"/> (one after another, or together).</summary>
    public void ObservePass(int trees, double ms)
    {
        if (trees < 1 || !(ms >= 0)) throw new ArgumentOutOfRangeException(nameof(ms), "A drafting pass drafts at least one tree in a time of zero or more.");
        _passes.Enqueue((trees, ms));
        while (_passes.Count > Window) _passes.Dequeue();
        _current = null;
    }

    /// <summary>
    /// A server-drafted step ended: <paramref name="verifiedNodes"/> of its tree's nodes were verified, and it committed
    /// <paramref name="tokens"/> tokens. A step a stop condition cut short says nothing of the draft's acceptance and is
    /// left out by the caller.
    /// </summary>
    public void ObserveStep(int verifiedNodes, int tokens)
    {
        if (verifiedNodes < 0 || tokens < 1) throw new ArgumentOutOfRangeException(nameof(tokens), "A drafted step has verified nodes and at least one token.");
        _steps.Enqueue((verifiedNodes, tokens));
        while (_steps.Count > Window) _steps.Dequeue();
        _current = null;
        Steps++;
    }

    private ServerDraftCost Fit()
    {
        var (fixedMs, perTree) = PassLine();
        return new ServerDraftCost(_steps.Average(s => s.Tokens), perTree, _steps.Average(s => s.Nodes), fixedMs);
    }

    /// <summary>
    /// The pass times' line: weighted least squares through each pass size's median time (weights: passes of that size),
    /// kept to non-negative parts. One size only: all of it per tree.
    /// </summary>
    private (double Fixed, double PerTree) PassLine()
    {
        var sizes = _passes.GroupBy(p => p.Trees).Select(g => (Trees: (double)g.Key, Ms: Median(g.Select(p => p.Ms)), Weight: (double)g.Count())).ToList();
        if (sizes.Count == 1) return (0, sizes[0].Ms / sizes[0].Trees);
        double w = sizes.Sum(s => s.Weight);
        double meanTrees = sizes.Sum(s => s.Weight * s.Trees) / w, meanMs = sizes.Sum(s => s.Weight * s.Ms) / w;
        double slope = sizes.Sum(s => s.Weight * (s.Trees - meanTrees) * (s.Ms - meanMs)) / sizes.Sum(s => s.Weight * (s.Trees - meanTrees) * (s.Trees - meanTrees));
        if (slope <= 0) return (meanMs, 0);   // more trees cost no more that can be measured: a pass's cost is fixed
        double intercept = meanMs - slope * meanTrees;
        if (intercept >= 0) return (intercept, slope);
        // Passes dearer per tree the larger they are: no fixed part, the line through the origin.
        return (0, sizes.Sum(s => s.Weight * s.Trees * s.Ms) / sizes.Sum(s => s.Weight * s.Trees * s.Trees));
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
