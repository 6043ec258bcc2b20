namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Early exits in the simulator (issue 25). Each forward with edge trees costs <see cref="ForwardOverhead"/> more (the
/// split and the head) and sends each tree's early verdict after <see cref="SplitAt"/> of its time; it reaches the edge
/// half a round trip later, and the edge then drafts ahead (as long as a proactive pre-draft) after any pre-draft of its
/// own. The next tree starts from a won bet with <see cref="HitRate"/> when the edge bets on the early verdict alone, and
/// <see cref="HitRateWithProactive"/> when it also bets proactively (both measured, not derived: the two bets overlap).
/// Drafting ahead that outlasts the verdict's arrival delays the next tree, as an overlong pre-draft does.
/// </summary>
public sealed record EarlyExitModel(double HitRate, double HitRateWithProactive, double SplitAt, double ForwardOverhead)
{
    public void Validate()
    {
        if (HitRate is < 0 or > 1 || HitRateWithProactive is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(HitRate), "Early-exit hit rates are shares in [0, 1].");
        if (SplitAt is <= 0 or > 1) throw new ArgumentOutOfRangeException(nameof(SplitAt), SplitAt, "The split is a share of the forward in (0, 1].");
        if (ForwardOverhead < 0) throw new ArgumentOutOfRangeException(nameof(ForwardOverhead), ForwardOverhead, "The split's overhead is a share >= 0.");
    }

    public string Description(bool withProactive) => System.FormattableString.Invariant(
        $"early exit after {SplitAt:P0} of the forward, +{ForwardOverhead:P1} per forward, bets won {(withProactive ? HitRateWithProactive : HitRate):P1}{(withProactive ? " (early or proactive)" : "")}");
}
