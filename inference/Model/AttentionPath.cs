namespace SpecEdge.Inference.Model;

/// <summary>How <see cref="CausalLm.Forward"/> runs attention over a batch of sequences.</summary>
public enum AttentionPath
{
    /// <summary>
    /// One attention call per layer for the whole batch: queries and keys padded to the longest sequence, the tree
    /// masks built on the device from parent indices. The default; what a GPU needs (one kernel, not one per sequence).
    /// </summary>
    Batched,

    /// <summary>
    /// One attention call per sequence per layer with host-built masks: the path before batching, kept as the
    /// side-by-side baseline of the forward benchmark and as a second implementation the tests compare against.
    /// </summary>
    PerSequence,
}
