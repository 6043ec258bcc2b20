namespace SpecEdge.Inference.Speculative;

/// <summary>
/// One item's outcome of a batched target forward: its verdict, or the error that failed this item alone. A failed
/// item left its sequence exactly as it was before the batch (committed tokens, step and KV cache).
/// </summary>
public sealed record WorkResult(VerdictMessage? Verdict, Exception? Error)
{
    /// <summary>
    /// For a prefill: committed tokens whose keys and values it did not compute, because the cache held them already
    /// (an earlier turn) or copied them from the device's prefix cache.
    /// </summary>
    public int ReusedTokens { get; init; }

    public VerdictMessage VerdictOrThrow() => Verdict ?? throw new InvalidOperationException($"Target work failed: {Error!.Message}", Error);
}
