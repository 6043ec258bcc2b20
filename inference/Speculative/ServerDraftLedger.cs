namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What the server's own drafting brings and costs on one device, learnt from the last <see cref="Window"/> steps it
/// drafted: the mean tokens each committed, the median milliseconds its tree took to draft, and the mean nodes of it
/// verified. The verifier prices server drafting with it (<see cref="GoodputCut.ServerDraftingPays"/>): a server that
/// drafts only when it pays, and a hand-back that drafts when the server's own speculation beats the edge's loop.
/// Device-wide, not per session: a draft's cost does not depend on whose tree it is, and its acceptance moves slowly
/// enough for a mean over recent steps. The median, because a device's first drafts (kernel compilation, caches) can
/// take many times what the rest do, and a mean of them would switch drafting off for good on a device where it pays.
/// While drafting does not pay nothing new comes in, except from the verifier's occasional probe
/// (<see cref="TreeTrimmer.ServerDraftProbeEvery"/>). Not thread-safe: its owner serialises it.
/// </summary>
public sealed class ServerDraftLedger
{
    /// <summary>Server-drafted steps seen before the figures are trusted.</summary>
    public const int MinSteps = 8;
    /// <summary>Recent steps the figures are taken over.</summary>
    public const int Window = 32;

    private readonly Queue<(double DraftMs, int Nodes, int Tokens)> _steps = new();
    private ServerDraftCost? _current;

    /// <summary>Server-drafted steps seen in all.</summary>
    public int Steps { get; private set; }

    /// <summary>The figures, once <see cref="MinSteps"/> steps were seen; null before.</summary>
    public ServerDraftCost? Current => Steps < MinSteps ? null : _current ??= Fit();

    /// <summary>
    /// A server-drafted step ended: its tree took <paramref name="draftMs"/> to draft, <paramref name="verifiedNodes"/>
    /// of its nodes were verified, and it committed <paramref name="tokens"/> tokens. A step a stop condition cut short
    /// says nothing of the draft's acceptance and is left out by the caller.
    /// </summary>
    public void Observe(double draftMs, int verifiedNodes, int tokens)
    {
        if (!(draftMs >= 0) || verifiedNodes < 0 || tokens < 1) throw new ArgumentOutOfRangeException(nameof(draftMs), "A drafted step has a draft time, verified nodes and at least one token.");
        _steps.Enqueue((draftMs, verifiedNodes, tokens));
        while (_steps.Count > Window) _steps.Dequeue();
        _current = null;
        Steps++;
    }

    private ServerDraftCost Fit()
    {
        var ms = _steps.Select(s => s.DraftMs).Order().ToArray();
        double median = ms.Length % 2 == 1 ? ms[ms.Length / 2] : (ms[ms.Length / 2 - 1] + ms[ms.Length / 2]) / 2;
        return new ServerDraftCost(_steps.Average(s => s.Tokens), median, _steps.Average(s => s.Nodes));
    }
}
