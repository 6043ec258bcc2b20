namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Chooses each step's tree budget and depth for one sequence (DSD's adaptive draft window, applied to best-first
/// trees). Depth follows a moving average of the accepted length plus headroom, and grows at once after a step that
/// accepted its whole depth; the budget is <see cref="AdaptiveTreeOptions.NodesPerLevel"/> per level, cut to what the
/// verifier's current batch and queue leave under its token knee. The drafter's fixed budget and depth are ceilings,
/// never exceeded. Any tree is lossless, so the policy only moves cost and tokens per step, never the output.
/// </summary>
public sealed class AdaptiveTreePolicy
{
    private readonly DraftTreeOptions _tree;
    private readonly AdaptiveTreeOptions _o;
    private double _acceptedAverage;
    private bool _lastFull;
    private int _lastDepth;
    private int _load;
    private double _serverMs, _roundTripMs;

    public AdaptiveTreePolicy(DraftTreeOptions tree)
    {
        _tree = tree;
        _o = tree.Adaptive ?? throw new ArgumentException("The tree options have no adaptive settings.", nameof(tree));
        _o.Validate(tree);
        // Start where the fixed default tree (depth 4) would be, inside the ceilings.
        _acceptedAverage = Math.Max(0, Math.Min(tree.MaxDepth, 4) - _o.DepthHeadroom);
    }

    /// <summary>Moving average of accepted draft tokens per step (bonus excluded).</summary>
    public double AcceptedAverage => _acceptedAverage;

    /// <summary>
    /// The verifier's side of the last step: trees in its forward (<paramref name="batch"/>), trees waiting behind it,
    /// its forward time and the step's measured round trip (0 where unknown).
    /// </summary>
    public void ObserveServer(int batch, int queue, double serverMs, double roundTripMs)
    {
        _load = Math.Max(0, batch) + Math.Max(0, queue);
        _serverMs = Math.Max(0, serverMs);
        _roundTripMs = Math.Max(0, roundTripMs);
    }

    /// <summary>What the last tree of depth <paramref name="depth"/> yielded: accepted draft tokens, bonus excluded.</summary>
    public void ObserveStep(int accepted, int depth)
    {
        _acceptedAverage += _o.Smoothing * (accepted - _acceptedAverage);
        _lastFull = depth > 0 && accepted >= depth;
        _lastDepth = depth;
    }

    /// <summary>Budget (nodes besides the root) and depth for the next tree; each within [min, the fixed options].</summary>
    public (int Budget, int Depth) Next()
    {
        int depth = (int)Math.Ceiling(_acceptedAverage + _o.DepthHeadroom);
        if (_lastFull) depth = Math.Max(depth, _lastDepth + 1);
        if (_serverMs > 0 && _roundTripMs > _o.LongRoundTripFactor * _serverMs) depth++;
        depth = Math.Clamp(depth, _o.MinDepth, _tree.MaxDepth);

        int budget = (int)Math.Round(_o.NodesPerLevel * depth);
        if (_o.VerifierTokenKnee > 0 && _load > 0) budget = Math.Min(budget, _o.VerifierTokenKnee / _load - 1);
        budget = Math.Clamp(budget, _o.MinBudget, _tree.Budget);
        return (budget, depth);
    }
}
