namespace SpecEdge.Inference.Model;

/// <summary>
/// One sequence's share of a batched forward. <see cref="Parents"/> number the nodes of the cache's pending tree first
/// (0 … pending-1) and then these new tokens; -1 hangs a node directly off the committed prefix (see
/// <see cref="TreeLayout"/>). With <see cref="CommitToPrefix"/> the tokens must be a chain on a cache without a pending
/// tree and are committed at once (prefill, plain decoding). With <see cref="LastLogitOnly"/> only the last node's
/// logits are computed.
/// </summary>
public sealed record SequenceInput(KvCache Cache, int[] Tokens, int[] Parents, bool LastLogitOnly = false, bool CommitToPrefix = false)
{
    /// <summary>Tokens that extend the committed prefix directly.</summary>
    public static SequenceInput Chain(KvCache cache, int[] tokens, bool lastLogitOnly = false) =>
        new(cache, tokens, TreeLayout.Chain(tokens.Length), lastLogitOnly, CommitToPrefix: true);
}
