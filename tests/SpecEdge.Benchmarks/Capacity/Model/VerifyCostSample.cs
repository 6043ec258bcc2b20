namespace SpecEdge.Benchmarks.Capacity;

/// <summary>One measured forward: a batch of sequences, each feeding the same number of tokens over the same context.</summary>
public sealed record VerifyCostSample(int Batch, int Tokens, int Context, double MeasuredMs)
{
    public IReadOnlyList<VerifyItem> Items => Enumerable.Repeat(new VerifyItem(Tokens, Context), Batch).ToList();
}
