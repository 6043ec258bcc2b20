namespace SpecEdge.Inference.Speculative;

/// <summary>
/// One item's outcome of a batched target forward: its verdict, or the error that failed this item alone. A failed
/// item left its sequence exactly as it was before the batch (committed tokens, step and KV cache).
/// </summary>
public sealed record WorkResult(VerdictMessage? Verdict, Exception? Error)
{
    public VerdictMessage VerdictOrThrow() => Verdict ?? throw new InvalidOperationException($"Target work failed: {Error!.Message}", Error);
}
