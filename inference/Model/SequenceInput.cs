namespace SpecEdge.Inference.Model;

/// <summary>
/// One sequence's share of a batched forward: the tokens (a tree, see <see cref="TreeLayout"/>) to append to the prefix
/// held in <see cref="Cache"/>. With <see cref="LastLogitOnly"/> only the last node's logits are computed (prefill).
/// </summary>
public sealed record SequenceInput(KvCache Cache, int[] Tokens, int[] Parents, bool LastLogitOnly = false)
{
    public static SequenceInput Chain(KvCache cache, int[] tokens, bool lastLogitOnly = false) =>
        new(cache, tokens, TreeLayout.Chain(tokens.Length), lastLogitOnly);
}
