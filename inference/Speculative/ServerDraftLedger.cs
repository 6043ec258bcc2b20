namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What the server's own drafting brings and costs on one device, learnt from the steps it drafted: exponentially
/// weighted means of the tokens each such step committed, the milliseconds its tree took to draft and the nodes of it
/// verified. The verifier prices server drafting with it (<see cref="GoodputCut.ServerDraftingPays"/>): a server that
/// drafts only when it pays, and a hand-back that drafts when the server's own speculation beats the edge's loop.
/// Device-wide, not per session: a draft's cost does not depend on whose tree it is, and its acceptance moves slowly
/// enough for a mean over recent steps. While drafting does not pay nothing new is learnt, and the last figures stand
/// (the cost of drafting does not move with load; whether it pays does, and that is decided per forward).
/// Not thread-safe: its owner serialises it.
/// </summary>
public sealed class ServerDraftLedger
{
    /// <summary>Server-drafted steps seen before the figures are trusted.</summary>
    public const int MinSteps = 8;
    /// <summary>Weight of the newest step in the means: about the last 30 steps count.</summary>
    private const double Smoothing = 1.0 / 32;

    private double _tokens, _draftMs, _nodes;

    public int Steps { get; private set; }

    /// <summary>The figures, once <see cref="MinSteps"/> steps were seen; null before.</summary>
    public ServerDraftCost? Current => Steps >= MinSteps ? new ServerDraftCost(_tokens, _draftMs, _nodes) : null;

    /// <summary>
    /// A server-drafted step ended: its tree took <paramref name="draftMs"/> to draft, <paramref name="verifiedNodes"/>
    /// of its nodes were verified, and it committed <paramref name="tokens"/> tokens. A step a stop condition cut short
    /// says nothing of the draft's acceptance and is left out by the caller.
    /// </summary>
    public void Observe(double draftMs, int verifiedNodes, int tokens)
    {
        if (!(draftMs >= 0) || verifiedNodes < 0 || tokens < 1) throw new ArgumentOutOfRangeException(nameof(draftMs), "A drafted step has a draft time, verified nodes and at least one token.");
        // The first steps are a plain mean (a weighted mean that starts at zero would undershoot for a long while).
        double weight = Math.Max(Smoothing, 1.0 / (Steps + 1));
        _tokens += weight * (tokens - _tokens);
        _draftMs += weight * (draftMs - _draftMs);
        _nodes += weight * (verifiedNodes - _nodes);
        Steps++;
    }
}
