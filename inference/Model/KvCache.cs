using static TorchSharp.torch;

namespace SpecEdge.Inference.Model;

/// <summary>
/// The key/value cache of ONE sequence, preallocated to a fixed capacity so a step never allocates.
/// Slots <c>[0, Length)</c> hold keys/values (already rotated) of the tokens the next forward may attend to.
/// A forward appends its new tokens at <c>[Length, Length + n)</c>; for a tree, speculative decoding then keeps only
/// the accepted root-to-node path with <see cref="KeepPath"/>. Not thread-safe: one forward at a time per cache.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;    // per layer [kv_heads, capacity, head_dim]
    private readonly Tensor[] _values;

    public int Capacity { get; }
    public int Length { get; private set; }
    public int Layers => _keys.Length;
    public bool IsDisposed { get; private set; }

    /// <summary>Bytes held by this cache (keys and values of every layer at full capacity).</summary>
    public long Bytes { get; }

    public KvCache(ModelConfig config, int capacity, ScalarType dtype, Device device)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "KV cache capacity must be positive.");
        Capacity = capacity;
        _keys = new Tensor[config.NumHiddenLayers];
        _values = new Tensor[config.NumHiddenLayers];
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l] = zeros(new long[] { config.NumKeyValueHeads, capacity, config.HeadDim }, dtype: dtype, device: device);
            _values[l] = zeros(new long[] { config.NumKeyValueHeads, capacity, config.HeadDim }, dtype: dtype, device: device);
        }
        Bytes = 2L * config.NumHiddenLayers * config.NumKeyValueHeads * capacity * config.HeadDim * _keys[0].ElementSize;
    }

    /// <summary>Throws when <paramref name="count"/> more tokens would not fit.</summary>
    public void EnsureRoom(int count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (Length + count > Capacity)
            throw new KvCapacityExceededException(
                $"Sequence would exceed its KV cache capacity: {Length} cached + {count} new > {Capacity} slots.");
    }

    /// <summary>Writes this layer's new keys/values ([kv_heads, n, head_dim]) after the current length.</summary>
    internal void Write(int layer, Tensor keys, Tensor values)
    {
        long n = keys.shape[1];
        using var k = _keys[layer].narrow(1, Length, n);
        using var v = _values[layer].narrow(1, Length, n);
        k.copy_(keys);
        v.copy_(values);
    }

    /// <summary>Keys/values of slots [0, length) as views ([kv_heads, length, head_dim]).</summary>
    internal (Tensor Keys, Tensor Values) View(int layer, int length) =>
        (_keys[layer].narrow(1, 0, length), _values[layer].narrow(1, 0, length));

    /// <summary>Marks <paramref name="count"/> slots written by the forward as part of the sequence.</summary>
    internal void Advance(int count) => Length += count;

    /// <summary>Forgets everything after the first <paramref name="length"/> tokens.</summary>
    public void Truncate(int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (length < 0 || length > Length)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Cannot truncate a cache of length {Length} to {length}.");
        Length = length;
    }

    /// <summary>
    /// Compaction after verifying a tree that was appended at <paramref name="treeStart"/>: keeps the slots
    /// <c>treeStart + offsets[j]</c> (an accepted root-to-node path, in order) at <c>treeStart + j</c> and drops the
    /// rest of the tree. Offsets must increase (tree nodes are stored in topological order, ancestors first).
    /// </summary>
    public void KeepPath(int treeStart, IReadOnlyList<int> offsets)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (treeStart < 0 || treeStart > Length)
            throw new ArgumentOutOfRangeException(nameof(treeStart), treeStart, $"Tree start outside the cache (length {Length}).");
        for (int j = 0; j < offsets.Count; j++)
        {
            if (offsets[j] < 0 || treeStart + offsets[j] >= Length || (j > 0 && offsets[j] <= offsets[j - 1]))
                throw new ArgumentException($"Path offset {offsets[j]} at index {j} is out of order or outside the appended tree ({Length - treeStart} nodes).");
        }
        bool identity = offsets.Select((o, j) => o == j).All(x => x);
        if (!identity)
        {
            using var scope = NewDisposeScope();
            var index = tensor(offsets.Select(o => (long)(treeStart + o)).ToArray(), device: _keys[0].device);
            for (int l = 0; l < _keys.Length; l++)
            {
                // Gather first: source and destination ranges may overlap.
                var k = _keys[l].index_select(1, index);
                var v = _values[l].index_select(1, index);
                _keys[l].narrow(1, treeStart, offsets.Count).copy_(k);
                _values[l].narrow(1, treeStart, offsets.Count).copy_(v);
            }
        }
        Length = treeStart + offsets.Count;
    }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        foreach (var t in _keys) t.Dispose();
        foreach (var t in _values) t.Dispose();
    }
}

/// <summary>A sequence would grow past the KV capacity it was given.</summary>
public sealed class KvCapacityExceededException(string message) : InvalidOperationException(message);
