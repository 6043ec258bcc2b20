using SpecEdge.Inference;

namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Verify cost fitted to measured forwards on this machine:
///   seconds = Fixed + Σ_items (PerSequence + PerToken·tokens + PerTokenContext·tokens·context).
/// A CPU forward is compute-bound, so cost grows with the tokens fed (weights × tokens) and with attention work
/// (tokens × context); Fixed is the per-forward overhead (dispatch, the LM head setup), PerSequence the per-cache work.
/// </summary>
public sealed record LinearVerifyCost(double Fixed, double PerSequence, double PerToken, double PerTokenContext) : IVerifyCost
{
    public double Seconds(IReadOnlyList<VerifyItem> batch) =>
        Fixed + batch.Sum(i => PerSequence + PerToken * i.Tokens + PerTokenContext * (double)i.Tokens * i.Context);

    /// <summary>The four features of one measured forward, in coefficient order.</summary>
    public static double[] Features(IReadOnlyList<VerifyItem> batch) => new[]
    {
        1.0, batch.Count, batch.Sum(i => (double)i.Tokens), batch.Sum(i => (double)i.Tokens * i.Context),
    };

    /// <summary>
    /// Least-squares fit of relative error to measured (batch, seconds) samples: each sample's equation is divided by its
    /// measured time, so a 6 ms decoding step weighs as much as an 80 ms batch of trees. Coefficients that come out negative (noise on a loaded
    /// machine) are dropped one at a time and the rest refitted, so the model never predicts a cheaper forward for more work.
    /// </summary>
    /// <param name="withContext">false when every sample has the same context, so tokens·context cannot be told apart from tokens.</param>
    public static LinearVerifyCost Fit(IReadOnlyList<(IReadOnlyList<VerifyItem> Batch, double Seconds)> samples, bool withContext = true)
    {
        var active = withContext ? new List<int> { 0, 1, 2, 3 } : new List<int> { 0, 1, 2 };
        while (true)
        {
            var rows = samples.Select(s => { var f = Features(s.Batch); return active.Select(k => f[k] / s.Seconds).ToArray(); }).ToList();
            var solved = LeastSquares.Solve(rows, samples.Select(_ => 1.0).ToList());
            int worst = Enumerable.Range(0, solved.Length).Where(k => solved[k] < 0).OrderBy(k => solved[k]).DefaultIfEmpty(-1).First();
            if (worst < 0 || active.Count == 1)
            {
                var c = new double[4];
                for (int k = 0; k < active.Count; k++) c[active[k]] = Math.Max(0, solved[k]);
                return new LinearVerifyCost(c[0], c[1], c[2], c[3]);
            }
            active.RemoveAt(worst);
        }
    }
}
