namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Goodput trimming in the simulator: <see cref="Share"/>[k] is the share of a whole tree's accepted draft tokens that
/// its best k nodes keep (k = 0 .. budget; 0 at 0, 1 at the whole tree), as measured by cutting the demo pair's trees to
/// k nodes (the spec benchmark's forced-k rows). The verifier's own rule (<see cref="SpecEdge.Inference.Speculative.GoodputCut"/>)
/// picks k per forward on the simulated device's cost; a step then keeps each accepted draft token with probability
/// Share[k], so its expected tokens are 1 + (mean - 1) · Share[k].
/// </summary>
public sealed record TrimCurve(double[] Share, string Description)
{
    /// <summary>
    /// Tokens per forward of the demo pair's fixed 32-node trees cut to their first k nodes, greedy, 24 held-out prompts of
    /// 64 new tokens (2026-12-06, docs/benchmarks/goodput.md), as the share of the whole tree's extra tokens, linearly
    /// between measured k.
    /// </summary>
    public static TrimCurve DemoPair(int budget)
    {
        // (k, tokens per forward) measured; 0 nodes is plain decoding.
        var measured = new (int K, double TokensPerForward)[]
        {
            (0, 1), (1, 1.636), (2, 2.104), (3, 2.252), (4, 2.438), (6, 2.690), (8, 2.778), (12, 2.983), (16, 3.154), (24, 3.737), (32, 3.879),
        };
        return FromMeasured(measured, budget, "demo pair, fixed 32-node trees cut to k nodes (spec benchmark forced-k, greedy, held-out)");
    }

    public static TrimCurve FromMeasured(IReadOnlyList<(int K, double TokensPerForward)> measured, int budget, string source)
    {
        var points = measured.OrderBy(m => m.K).ToArray();
        if (points[0].K != 0 || points[^1].K < budget) throw new ArgumentException($"A trim curve needs k = 0 and k = {budget} measured.");
        double full = points.First(p => p.K >= budget).TokensPerForward - 1;
        var share = new double[budget + 1];
        for (int k = 0; k <= budget; k++)
        {
            var hi = points.First(p => p.K >= k);
            var lo = points.Last(p => p.K <= k);
            double t = hi.K == lo.K ? lo.TokensPerForward : lo.TokensPerForward + (hi.TokensPerForward - lo.TokensPerForward) * (k - lo.K) / (hi.K - lo.K);
            share[k] = Math.Clamp((t - 1) / full, 0, 1);
        }
        return new TrimCurve(share, source);
    }
}
