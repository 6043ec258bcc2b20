using static TorchSharp.torch;

namespace SpecEdge.Inference.Prefixes;

/// <summary>
/// The keys and values of one block of tokens at fixed positions, as computed after every token before them: valid for
/// any sequence whose tokens up to the block's end are the same. Holds its tokens, tag and parent so that a lookup
/// compares them, and a hash collision could never hand out another prefix's keys.
/// </summary>
internal sealed class PrefixBlock(UInt128 key, UInt128 parent, string tag, int[] tokens, Tensor keys, Tensor values) : IDisposable
{
    public UInt128 Key { get; } = key;
    public UInt128 Parent { get; } = parent;
    public string Tag { get; } = tag;
    public int[] Tokens { get; } = tokens;
    /// <summary>[layers, kv_heads, block, head_dim], rotated at the block's absolute positions.</summary>
    public Tensor Keys { get; } = keys;
    public Tensor Values { get; } = values;

    public bool Matches(UInt128 parent, string tag, IReadOnlyList<int> tokens, int start)
    {
        if (Parent != parent || Tag != tag) return false;
        for (int i = 0; i < Tokens.Length; i++)
            if (Tokens[i] != tokens[start + i]) return false;
        return true;
    }

    public void Dispose()
    {
        Keys.Dispose();
        Values.Dispose();
    }
}
