using static TorchSharp.torch;

namespace SpecEdge.Inference.Model;

/// <summary>
/// The key/value cache of ONE sequence, preallocated to a fixed capacity so a step never allocates.
/// Slots <c>[0, PrefixLength)</c> hold the committed prefix, which every new token attends to. Slots
/// <c>[PrefixLength, Length)</c> hold a <em>pending tree</em> of speculative tokens: each sees the prefix and its own
/// ancestors only. A forward appends to the pending tree (or, for a committed chain, straight to the prefix);
/// <see cref="Compact"/> then commits an accepted root-to-node path and keeps or drops the rest.
/// Keys are stored already rotated, at absolute positions, so relocating a slot never changes its meaning.
/// Not thread-safe: one forward at a time per cache.
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly Tensor[] _keys;    // per layer [kv_heads, capacity, head_dim]
    private readonly Tensor[] _values;
    private readonly List<int> _pendingParents = new();   // parent of pending node i (-1 = the prefix end)
    private readonly List<int> _pendingDepths = new();

    public int Capacity { get; }
    public int PrefixLength { get; private set; }
    public int PendingCount => _pendingParents.Count;
    public int Length => PrefixLength + PendingCount;
    public IReadOnlyList<int> PendingParents => _pendingParents;
    public IReadOnlyList<int> PendingDepths => _pendingDepths;
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

    /// <summary>
    /// Copies committed slots [<paramref name="start"/>, start + n) of every layer into <paramref name="keys"/> and
    /// <paramref name="values"/> ([layers, kv_heads, n, head_dim]): a block for the <see cref="PrefixCache"/>.
    /// </summary>
    internal void CopySlotsTo(int start, Tensor keys, Tensor values)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        long n = keys.shape[2];
        if (start < 0 || start + n > PrefixLength)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"Slots [{start}, {start + n}) are not all committed ({PrefixLength} are).");
        using var scope = NewDisposeScope();
        for (int l = 0; l < _keys.Length; l++)
        {
            keys[l].copy_(_keys[l].narrow(1, start, n));
            values[l].copy_(_values[l].narrow(1, start, n));
        }
    }

    /// <summary>
    /// Appends slots [<paramref name="offset"/>, offset + <paramref name="count"/>) of a block ([layers, kv_heads, n,
    /// head_dim]) to the committed prefix: keys/values computed elsewhere for exactly these tokens at exactly these
    /// positions (keys are stored rotated at absolute positions, so a block is only valid where it was computed).
    /// </summary>
    internal void AppendPrefixFrom(Tensor keys, Tensor values, int offset, int count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (PendingCount != 0) throw new InvalidOperationException("Cannot extend the prefix while a pending tree exists; compact it first.");
        EnsureRoom(count);
        using var scope = NewDisposeScope();
        for (int l = 0; l < _keys.Length; l++)
        {
            _keys[l].narrow(1, PrefixLength, count).copy_(keys[l].narrow(1, offset, count));
            _values[l].narrow(1, PrefixLength, count).copy_(values[l].narrow(1, offset, count));
        }
        PrefixLength += count;
    }

    /// <summary>Records the nodes a forward appended to the pending tree (parents in pending numbering).</summary>
    internal void AppendPending(IReadOnlyList<int> parents, IReadOnlyList<int> depths)
    {
        _pendingParents.AddRange(parents);
        _pendingDepths.AddRange(depths);
    }

    /// <summary>Makes <paramref name="count"/> slots just written part of the committed prefix (no pending tree allowed).</summary>
    internal void AppendPrefix(int count)
    {
        if (PendingCount != 0) throw new InvalidOperationException("Cannot extend the prefix while a pending tree exists; compact it first.");
        PrefixLength += count;
    }

    /// <summary>Forgets everything after the first <paramref name="length"/> committed tokens, and any pending tree.</summary>
    public void Truncate(int length)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        if (length < 0 || length > PrefixLength)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"Cannot truncate a prefix of length {PrefixLength} to {length}.");
        PrefixLength = length;
        _pendingParents.Clear();
        _pendingDepths.Clear();
    }

    /// <summary>
    /// Resolves the pending tree. <paramref name="path"/> (pending indices, each the child of the one before, the first
    /// hanging off the prefix) is appended to the committed prefix. <paramref name="keep"/> (pending indices, ancestors
    /// first) stays pending, re-parented onto the new prefix end where its parent was the path's last node.
    /// Everything else is dropped. Surviving slots are moved, never recomputed.
    /// </summary>
    public void Compact(IReadOnlyList<int> path, IReadOnlyList<int>? keep = null)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        keep ??= Array.Empty<int>();
        for (int j = 0; j < path.Count; j++)
        {
            int node = path[j];
            if (node < 0 || node >= PendingCount)
                throw new ArgumentOutOfRangeException(nameof(path), node, $"Path node {node} is not in the pending tree ({PendingCount} nodes).");
            int expectedParent = j == 0 ? -1 : path[j - 1];
            if (_pendingParents[node] != expectedParent)
                throw new ArgumentException($"Path node {node} has parent {_pendingParents[node]}, expected {expectedParent}: not a root-to-node path.");
        }
        var newIndex = new Dictionary<int, int>();
        int pathEnd = path.Count > 0 ? path[^1] : -1;
        var keptParents = new List<int>();
        var keptDepths = new List<int>();
        foreach (int node in keep)
        {
            if (node < 0 || node >= PendingCount)
                throw new ArgumentOutOfRangeException(nameof(keep), node, $"Kept node {node} is not in the pending tree ({PendingCount} nodes).");
            int parent = _pendingParents[node];
            int mapped = parent == pathEnd ? -1
                : newIndex.TryGetValue(parent, out var p) ? p
                : throw new ArgumentException($"Kept node {node} hangs off node {parent}, which is neither kept before it nor the path's end.");
            newIndex[node] = keptParents.Count;
            keptParents.Add(mapped);
            keptDepths.Add(mapped < 0 ? 0 : keptDepths[mapped] + 1);
        }

        var sources = path.Concat(keep).Select(i => (long)(PrefixLength + i)).ToArray();
        bool inPlace = sources.Select((s, j) => s == PrefixLength + j).All(x => x);
        if (!inPlace)
        {
            using var scope = NewDisposeScope();
            var index = tensor(sources, device: _keys[0].device);
            for (int l = 0; l < _keys.Length; l++)
            {
                // Gather first: source and destination ranges may overlap.
                var k = _keys[l].index_select(1, index);
                var v = _values[l].index_select(1, index);
                _keys[l].narrow(1, PrefixLength, sources.Length).copy_(k);
                _values[l].narrow(1, PrefixLength, sources.Length).copy_(v);
            }
        }
        PrefixLength += path.Count;
        _pendingParents.Clear();
        _pendingParents.AddRange(keptParents);
        _pendingDepths.Clear();
        _pendingDepths.AddRange(keptDepths);
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
