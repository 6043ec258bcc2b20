namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Parameters of the best-first draft tree search (SpecExec style; defaults from the SpecEdge paper) and of proactive
/// drafting. <see cref="Budget"/> counts tree nodes besides the root, so a step verifies <c>Budget + 1</c> tokens.
/// </summary>
public sealed record DraftTreeOptions
{
    public int Budget { get; init; } = 32;
    /// <summary>Rounds of expansion, hence the deepest node below the root.</summary>
    public int MaxDepth { get; init; } = 4;
    /// <summary>Nodes expanded per round (one draft forward over all of them).</summary>
    public int MaxBeams { get; init; } = 32;
    /// <summary>Children considered per expanded node (the draft's top tokens).</summary>
    public int BranchWidth { get; init; } = 16;
    /// <summary>Per-level score decay: child score = parent score + ln(decay) + log p_draft.</summary>
    public double Decay { get; init; } = 0.9;
    public bool Proactive { get; init; } = true;
    /// <summary>Depth of the subtree pre-drafted under the predicted bonus token.</summary>
    public int ProactiveDepth { get; init; } = 3;
    public double ProactiveDecay { get; init; } = 0.95;
    /// <summary>
    /// The verifier decodes greedily (temperature 0): proactive drafting then bets on the end of the draft's argmax
    /// chain instead of the paper's score (see <see cref="EdgeDrafter.PreDraft"/>).
    /// </summary>
    public bool GreedyVerification { get; init; }

    /// <summary>
    /// Most draft tokens the draft KV cache holds beyond the committed ones during a step: every round adds at most
    /// Budget nodes to the tree (a carried pre-drafted subtree included), and proactive drafting a subtree of at most
    /// ProactiveDepth rounds more. A draft cache of the context length plus this never overflows.
    /// </summary>
    public int DraftCacheHeadroom => (MaxDepth + (Proactive ? ProactiveDepth : 0)) * Budget + 1;

    public void Validate()
    {
        if (Budget < 1) throw new ArgumentOutOfRangeException(nameof(Budget), Budget, "Draft budget must be at least 1 node.");
        if (MaxDepth < 1) throw new ArgumentOutOfRangeException(nameof(MaxDepth), MaxDepth, "max_depth must be at least 1.");
        if (MaxBeams < 1) throw new ArgumentOutOfRangeException(nameof(MaxBeams), MaxBeams, "max_beams must be at least 1.");
        if (BranchWidth < 1) throw new ArgumentOutOfRangeException(nameof(BranchWidth), BranchWidth, "branch_width must be at least 1.");
        if (!(Decay > 0 && Decay <= 1)) throw new ArgumentOutOfRangeException(nameof(Decay), Decay, "decay must be in (0, 1].");
        if (ProactiveDepth < 1 || ProactiveDepth > MaxDepth)
            throw new ArgumentOutOfRangeException(nameof(ProactiveDepth), ProactiveDepth, $"proactive depth must be in [1, max_depth={MaxDepth}].");
    }
}
