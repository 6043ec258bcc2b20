namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What the server's own drafting brings and costs on one device, learnt from its recent drafting: the mean tokens each
/// of the last <see cref="Window"/> drafted steps committed and the mean nodes of their trees verified, and the line
/// (fixed + per tree) that the last <see cref="Window"/> drafting passes' times follow. The verifier prices server
/// drafting with it (<see cref="GoodputCut.ServerDraftingPays"/>): a server that drafts only when it pays, and a
/// hand-back that drafts when the server's own speculation beats the edge's loop. Device-wide, not per session: a
/// draft's cost does not depend on whose tree it is, and its acceptance moves slowly enough for a mean over recent steps.
/// <para>
/// The pass times' line is fitted by medians (<see cref="PassLine"/>), because a device's first drafts (kernel
/// compilation, caches) can take many times what the rest do, and a mean of them would switch drafting off for good on a
/// device where it pays. With passes of one size only, the whole time is counted per tree (no fixed part): a device seen drafting one
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
    /// The pass times' line, fitted robustly (Theil-Sen): the slope is the median of the slopes between passes of different
    /// sizes, the fixed part the median of what each pass took beyond it, both kept non-negative. A device's first passes
    /// and the passes that catch a new turn's prompt up take many times the rest; a least-squares line through them
    /// priced drafting out for good (seen in e2e: 60 ms a pass learnt where 17 was usual). One size only: all of it per
    /// tree, the median time per tree.
    /// </summary>
    private (double Fixed, double PerTree) PassLine()
    {
        var passes = _passes.ToArray();
        var slopes = new List<double>();
        for (int i = 0; i < passes.Length; i++)
            for (int j = i + 1; j < passes.Length; j++)
                if (passes[i].Trees != passes[j].Trees)
                    slopes.Add((passes[j].Ms - passes[i].Ms) / (passes[j].Trees - passes[i].Trees));
        if (slopes.Count == 0) return (0, Median(passes.Select(p => p.Ms / p.Trees)));
        double slope = Median(slopes);
        if (slope <= 0) return (Median(passes.Select(p => p.Ms)), 0);   // more trees cost no more that can be measured: a pass's cost is fixed
        double intercept = Median(passes.Select(p => p.Ms - slope * p.Trees));
        // Passes dearer per tree the larger they are: no fixed part, the median time per tree.
        return intercept >= 0 ? (intercept, slope) : (0, Median(passes.Select(p => p.Ms / p.Trees)));
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
    }
}
