namespace SpecEdge.Inference;

/// <summary>
/// Ordinary least squares by the normal equations (Gaussian elimination with partial pivoting). The cost models fitted
/// with it (the verifier's forward cost line, the capacity benchmark's) have 3-4 coefficients and a few dozen to a few
/// hundred samples, so the conditioning of XᵀX is not a concern worth a QR.
/// </summary>
public static class LeastSquares
{
    /// <param name="relativeTolerance">
    /// A pivot below this share of the largest diagonal entry of XᵀX counts as vanishing (features that rounding alone
    /// tells apart are not told apart); 0: only an exact zero does.
    /// </param>
    /// <exception cref="InvalidOperationException">A feature is a combination of the others (or constant, when centred).</exception>
    public static double[] Solve(IReadOnlyList<double[]> rows, IReadOnlyList<double> targets, double relativeTolerance = 0)
    {
        if (rows.Count == 0 || rows.Count != targets.Count) throw new ArgumentException($"Need as many target values as rows (got {rows.Count} rows, {targets.Count} targets), at least one.");
        int n = rows[0].Length;
        if (rows.Count < n) throw new ArgumentException($"{rows.Count} samples cannot determine {n} coefficients.");
        var a = new double[n, n + 1];
        for (int r = 0; r < rows.Count; r++)
        {
            if (rows[r].Length != n) throw new ArgumentException($"Row {r} has {rows[r].Length} features, the first row {n}.");
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++) a[i, j] += rows[r][i] * rows[r][j];
                a[i, n] += rows[r][i] * targets[r];
            }
        }
        double scale = 0;
        for (int i = 0; i < n; i++) scale = Math.Max(scale, Math.Abs(a[i, i]));
        double tiny = Math.Max(1e-300, relativeTolerance * scale);
        for (int col = 0; col < n; col++)
        {
            int pivot = col;
            for (int r = col + 1; r < n; r++) if (Math.Abs(a[r, col]) > Math.Abs(a[pivot, col])) pivot = r;
            if (Math.Abs(a[pivot, col]) < tiny) throw new InvalidOperationException($"Feature {col} is a combination of the others: the samples do not determine it.");
            for (int j = 0; j <= n; j++) (a[col, j], a[pivot, j]) = (a[pivot, j], a[col, j]);
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = a[r, col] / a[col, col];
                for (int j = col; j <= n; j++) a[r, j] -= f * a[col, j];
            }
        }
        return Enumerable.Range(0, n).Select(i => a[i, n] / a[i, i]).ToArray();
    }
}
