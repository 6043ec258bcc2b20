namespace SpecEdge.Inference.Speculative;

/// <summary>
/// How far one sequence's draft probabilities are to be believed: the ratio of nodes its verdicts actually accepted to
/// the nodes its path probabilities predicted, over its recent steps. Drafts are over- or under-confident per model, per
/// edge and per text, and an edge may lie; the ratio corrects all of these with what the target itself decided, so a
/// tree claiming certainty it does not earn is soon priced at what it delivers. Starts at belief (1) with the weight
/// of <see cref="PriorNodes"/> nodes, so the first steps neither trust nor dismiss a new sequence.
/// </summary>
public sealed class AcceptanceCalibration
{
    /// <summary>The prior's weight, in predicted nodes: how much evidence it takes to move the scale far.</summary>
    public const double PriorNodes = 1;
    /// <summary>Each step's weight against the history before it: old steps fade, so a change of edge or text shows within tens of steps.</summary>
    public const double Fade = 0.95;
    /// <summary>
    /// The scale stays within these bounds: a lucky or unlucky run must not make nodes free or worthless. Wide, because
    /// a draft sharp in its choices but flat in its probabilities (a small model on a large vocabulary) is accepted ten
    /// and more times as often as it claims.
    /// </summary>
    public const double MinScale = 1.0 / 16, MaxScale = 16;

    private double _predicted, _accepted;

    /// <summary>Multiply a path probability by this for the expected acceptance of the node.</summary>
    public double Scale => Math.Clamp((_accepted + PriorNodes) / (_predicted + PriorNodes), MinScale, MaxScale);

    /// <summary>A verified tree of path probabilities summing to <paramref name="predicted"/> had <paramref name="accepted"/> of its nodes accepted.</summary>
    public void Observe(double predicted, int accepted)
    {
        _predicted = _predicted * Fade + predicted;
        _accepted = _accepted * Fade + accepted;
    }
}
