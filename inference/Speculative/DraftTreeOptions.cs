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
    /// <summary>
    /// Temperature of the draft log-probabilities that score nodes (1 = the paper's). Below 1 sharpens them: a greedy
    /// verifier accepts the draft's first choice far more often than the draft's own probability of it says (top-1
    /// agreement ~60 % where that probability is ~30 %), so at T=1 trees come out wide and shallow (2-3 levels) and
    /// deep paths the verifier would accept are never sent. Any score is lossless; this only reshapes the tree.
    /// </summary>
    public double ScoreTemperature { get; init; } = 1.0;
    /// <summary>
    /// The score temperature used instead when <see cref="GreedyVerification"/> is set. Measured on the demo pair with
    /// the distilled draft (held-out Brown prompts, fixed 32-node depth-4 tree): 2.8 tokens per target forward at 1.0,
    /// 3.3 at 0.5, 3.56 at 0.3.
    /// </summary>
    public double GreedyScoreTemperature { get; init; } = 0.3;
    /// <summary>The temperature the tree search actually scores with.</summary>
    public double EffectiveScoreTemperature => GreedyVerification ? GreedyScoreTemperature : ScoreTemperature;
    public bool Proactive { get; init; } = true;
    /// <summary>Depth of the subtree pre-drafted under the predicted bonus token.</summary>
    public int ProactiveDepth { get; init; } = 3;
    public double ProactiveDecay { get; init; } = 0.95;
    /// <summary>
    /// Early exits: on an early verdict from the verifier (<see cref="TreeDrafter.DraftAhead"/>), draft a subtree under
    /// its outcome beside the proactive bet, so a tree is ready when the verdict confirms it. Off: early verdicts are ignored.
    /// </summary>
    public bool DraftAhead { get; init; }
    /// <summary>
    /// The verifier decodes greedily (temperature 0): proactive drafting then bets on the end of the draft's argmax
    /// chain instead of the paper's score (see <see cref="TreeDrafter.PreDraft"/>).
    /// </summary>
    public bool GreedyVerification { get; init; }

    /// <summary>
    /// Whether the draft follows the reply's grammar when it has one (structured output): its rows are masked as the
    /// target's are, so it proposes only tokens the target may choose. Off: the draft proposes freely and acceptance
    /// alone absorbs the difference (lossless either way; benchmarks and tests compare the two).
    /// </summary>
    public bool DraftUnderGrammar { get; init; } = true;
    /// <summary>
    /// Null: every tree uses <see cref="Budget"/> and <see cref="MaxDepth"/> (the fixed tree). Set: each step's budget and
    /// depth are chosen by an <see cref="AdaptiveTreePolicy"/>, with Budget and MaxDepth as ceilings.
    /// </summary>
    public AdaptiveTreeOptions? Adaptive { get; init; }

    /// <summary>
    /// Most draft tokens the draft KV cache holds beyond the committed ones during a step: every round adds at most
    /// Budget nodes to the tree (a carried pre-drafted subtree included), and proactive drafting a subtree of at most
    /// ProactiveDepth rounds more (and drafting ahead on an early verdict as many again). A draft cache of the context length plus this never overflows.
    /// </summary>
    public int DraftCacheHeadroom => (MaxDepth + (Proactive ? ProactiveDepth : 0) + (DraftAhead ? ProactiveDepth : 0)) * Budget + 1;

    public void Validate()
    {
        if (Budget < 1) throw new ArgumentOutOfRangeException(nameof(Budget), Budget, "Draft budget must be at least 1 node.");
        if (MaxDepth < 1) throw new ArgumentOutOfRangeException(nameof(MaxDepth), MaxDepth, "max_depth must be at least 1.");
        if (MaxBeams < 1) throw new ArgumentOutOfRangeException(nameof(MaxBeams), MaxBeams, "max_beams must be at least 1.");
        if (BranchWidth < 1) throw new ArgumentOutOfRangeException(nameof(BranchWidth), BranchWidth, "branch_width must be at least 1.");
        if (!(ScoreTemperature > 0)) throw new ArgumentOutOfRangeException(nameof(ScoreTemperature), ScoreTemperature, "score temperature must be > 0.");
        if (!(GreedyScoreTemperature > 0)) throw new ArgumentOutOfRangeException(nameof(GreedyScoreTemperature), GreedyScoreTemperature, "greedy score temperature must be > 0.");
        if (!(Decay > 0 && Decay <= 1)) throw new ArgumentOutOfRangeException(nameof(Decay), Decay, "decay must be in (0, 1].");
        if (ProactiveDepth < 1 || ProactiveDepth > MaxDepth)
            throw new ArgumentOutOfRangeException(nameof(ProactiveDepth), ProactiveDepth, $"proactive depth must be in [1, max_depth={MaxDepth}].");
        Adaptive?.Validate(this);
    }
}
