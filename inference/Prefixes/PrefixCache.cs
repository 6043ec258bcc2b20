using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using SpecEdge.Inference.Model;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Prefixes;

/// <summary>
/// Keys and values of token prefixes on one device, kept after the sequences that computed them, so that a sequence
/// opening (a new conversation with a known system prompt, a regenerated or edited last message, a rebuild after
/// eviction or failover) copies the longest cached prefix into its own cache and prefills only the rest.
/// </summary>
/// <remarks>
/// <para>Blocks of <see cref="BlockTokens"/> tokens are keyed by a hash chain: block <c>b</c>'s key hashes block
/// <c>b-1</c>'s key, the block's scope tag (<see cref="PrefixScope"/>) and its tokens; the chain starts from the model's
/// identity and dtype. So a block is found only for the same tokens at the same positions after the same tokens, in the
/// same scope, on the same model.</para>
/// <para>A restore copies blocks into the sequence's own preallocated cache (docs/benchmarks/prefix-cache.md measured
/// copying against gathering shared blocks every forward): sequences never reference a block afterwards, so any block may be
/// evicted at any time and a reply in progress keeps every guarantee it had. Blocks are evicted least recently used
/// to stay within <see cref="CapacityBytes"/>, which the owner sets to what its KV budget leaves free. A block is touched
/// after its descendants, so the least recently used block is never the parent of a live one.</para>
/// <para>Device-thread only, except <see cref="CapacityBytes"/> and the counters, which any thread may read.</para>
/// </remarks>
public sealed class PrefixCache : IDisposable
{
    private readonly Dictionary<UInt128, LinkedListNode<PrefixBlock>> _blocks = new();
    /// <summary>Most recently used first.</summary>
    private readonly LinkedList<PrefixBlock> _recency = new();
    private readonly UInt128 _root;
    private readonly long[] _blockShape;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private long _capacityBytes;
    private long _reusedTokens, _restores, _insertedBlocks, _evictedBlocks;
    private int _count;

    public PrefixCache(ModelConfig config, ScalarType dtype, Device device, string modelIdentity, int blockTokens = 32, long capacityBytes = long.MaxValue)
    {
        if (blockTokens < 1) throw new ArgumentOutOfRangeException(nameof(blockTokens), blockTokens, "A prefix block needs at least one token.");
        BlockTokens = blockTokens;
        _dtype = dtype;
        _device = device;
        _blockShape = [config.NumHiddenLayers, config.NumKeyValueHeads, blockTokens, config.HeadDim];
        BlockBytes = 2L * config.NumHiddenLayers * config.NumKeyValueHeads * blockTokens * config.HeadDim * ElementSize(dtype);
        _capacityBytes = capacityBytes;
        _root = ToKey(SHA256.HashData(Encoding.UTF8.GetBytes($"{modelIdentity}\n{dtype}\n{config.ToJson().ToJsonString()}")));
    }

    public int BlockTokens { get; }
    /// <summary>Bytes of one block (keys and values of every layer).</summary>
    public long BlockBytes { get; }
    public int Blocks => Volatile.Read(ref _count);
    public long Bytes => Blocks * BlockBytes;

    /// <summary>Most bytes the blocks may hold; lowering it takes effect at the next <see cref="Trim"/>, restore or insert.</summary>
    public long CapacityBytes
    {
        get => Volatile.Read(ref _capacityBytes);
        set => Volatile.Write(ref _capacityBytes, Math.Max(0, value));
    }

    /// <summary>Tokens whose keys and values were copied from blocks instead of computed.</summary>
    public long ReusedTokens => Interlocked.Read(ref _reusedTokens);
    /// <summary>Restores that reused at least one token.</summary>
    public long Restores => Interlocked.Read(ref _restores);
    public long InsertedBlocks => Interlocked.Read(ref _insertedBlocks);
    public long EvictedBlocks => Interlocked.Read(ref _evictedBlocks);

    /// <summary>
    /// Extends <paramref name="cache"/>'s committed prefix, which must hold the first tokens of <paramref name="tokens"/>,
    /// with the cached blocks that continue it, up to <paramref name="limit"/> tokens; returns how many tokens it added.
    /// A cache with a pending tree is left alone.
    /// </summary>
    public int Restore(KvCache cache, IReadOnlyList<int> tokens, int limit, PrefixScope scope)
    {
        Trim();
        if (cache.PendingCount != 0) return 0;
        limit = Math.Min(Math.Min(limit, tokens.Count), cache.Capacity);
        int start = cache.PrefixLength;
        if (limit - start < 1) return 0;
        var chain = Walk(tokens, limit / BlockTokens, scope, stopAtMissing: true).Select(l => l.Block!).ToList();
        int covered = chain.Count * BlockTokens;
        if (covered <= start) return 0;
        Touch(chain);
        for (int b = start / BlockTokens; b < chain.Count; b++)
        {
            int offset = Math.Max(0, start - b * BlockTokens);
            cache.AppendPrefixFrom(chain[b].Keys, chain[b].Values, offset, BlockTokens - offset);
        }
        Interlocked.Add(ref _reusedTokens, covered - start);
        Interlocked.Increment(ref _restores);
        return covered - start;
    }

    /// <summary>
    /// Keeps the blocks of <paramref name="cache"/>'s committed prefix (the first tokens of <paramref name="tokens"/>)
    /// that are not cached yet, evicting least recently used blocks to stay within <see cref="CapacityBytes"/>; stops
    /// where no more fit. Returns how many blocks it added.
    /// </summary>
    public int Insert(KvCache cache, IReadOnlyList<int> tokens, PrefixScope scope)
    {
        Trim();
        int full = Math.Min(cache.PrefixLength, tokens.Count) / BlockTokens;
        if (full == 0 || CapacityBytes < BlockBytes) return 0;
        var links = Walk(tokens, full, scope, stopAtMissing: false);
        // The cached part of the chain is touched first, so making room for its new blocks never evicts their ancestors.
        Touch(links.TakeWhile(l => l.Block is not null).Select(l => l.Block!).ToList());
        var chain = new List<PrefixBlock>();
        var inChain = new HashSet<UInt128>();
        int added = 0;
        for (int b = 0; b < links.Count; b++)
        {
            var link = links[b];
            if (link.Block is null)
            {
                if (!MakeRoom(inChain)) break;
                var keys = empty(_blockShape, _dtype, _device);
                var values = empty(_blockShape, _dtype, _device);
                try { cache.CopySlotsTo(b * BlockTokens, keys, values); }
                catch
                {
                    keys.Dispose();
                    values.Dispose();
                    throw;
                }
                var blockTokens = new int[BlockTokens];
                for (int i = 0; i < BlockTokens; i++) blockTokens[i] = tokens[b * BlockTokens + i];
                link = link with { Block = new PrefixBlock(link.Key, link.Parent, link.Tag, blockTokens, keys, values) };
                _blocks[link.Key] = _recency.AddFirst(link.Block);
                Interlocked.Increment(ref _count);
                Interlocked.Increment(ref _insertedBlocks);
                added++;
            }
            chain.Add(link.Block);
            inChain.Add(link.Key);
        }
        Touch(chain);
        return added;
    }

    /// <summary>Evicts least recently used blocks until the cache fits <see cref="CapacityBytes"/>; returns how many.</summary>
    public int Trim()
    {
        int evicted = 0;
        while (Bytes > CapacityBytes && _recency.Last is { } last)
        {
            Evict(last);
            evicted++;
        }
        return evicted;
    }

    public void Dispose()
    {
        foreach (var block in _recency) block.Dispose();
        _recency.Clear();
        _blocks.Clear();
        Volatile.Write(ref _count, 0);
    }

    private readonly record struct Link(UInt128 Key, UInt128 Parent, string Tag, PrefixBlock? Block);

    /// <summary>
    /// The first <paramref name="blocks"/> links of the chain of <paramref name="tokens"/>: each block's key and what is
    /// cached under it (only a block whose parent, tag and tokens match); stops at the first block not cached if asked.
    /// </summary>
    private List<Link> Walk(IReadOnlyList<int> tokens, int blocks, PrefixScope scope, bool stopAtMissing)
    {
        var links = new List<Link>(blocks);
        int publicLength = scope.Public.Covered(tokens);
        var parent = _root;
        // One hasher and one encoding of each of the two tags per walk: a walk runs after every prefill and reply.
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        string publicTag = scope.Tag(0, publicLength), tenantTag = scope.Tag(int.MaxValue, publicLength);
        byte[] publicBytes = Encoding.UTF8.GetBytes(publicTag), tenantBytes = Encoding.UTF8.GetBytes(tenantTag);
        Span<byte> buffer = stackalloc byte[16 + 4 * BlockTokens];
        Span<byte> digest = stackalloc byte[32];
        for (int b = 0; b < blocks; b++)
        {
            int start = b * BlockTokens;
            bool isPublic = start + BlockTokens <= publicLength;
            string tag = isPublic ? publicTag : tenantTag;
            BinaryPrimitives.WriteUInt128LittleEndian(buffer, parent);
            for (int i = 0; i < BlockTokens; i++) BinaryPrimitives.WriteInt32LittleEndian(buffer[(16 + 4 * i)..], tokens[start + i]);
            hash.AppendData(buffer);
            hash.AppendData(isPublic ? publicBytes : tenantBytes);
            hash.GetHashAndReset(digest);
            var key = BinaryPrimitives.ReadUInt128LittleEndian(digest);
            var block = _blocks.TryGetValue(key, out var node) && node.Value.Matches(parent, tag, tokens, start) ? node.Value : null;
            if (block is null && stopAtMissing) break;
            links.Add(new Link(key, parent, tag, block));
            parent = key;
        }
        return links;
    }

    /// <summary>Room for one more block, evicting least recently used blocks but none of <paramref name="keep"/>; false when none can go.</summary>
    private bool MakeRoom(HashSet<UInt128> keep)
    {
        while (Bytes + BlockBytes > CapacityBytes)
        {
            if (_recency.Last is not { } last || keep.Contains(last.Value.Key)) return false;
            Evict(last);
        }
        return true;
    }

    private void Evict(LinkedListNode<PrefixBlock> node)
    {
        _recency.Remove(node);
        _blocks.Remove(node.Value.Key);
        node.Value.Dispose();
        Interlocked.Decrement(ref _count);
        Interlocked.Increment(ref _evictedBlocks);
    }

    /// <summary>Marks a chain used now, its deepest block first: every block ends up more recent than its descendants.</summary>
    private void Touch(IReadOnlyList<PrefixBlock> chain)
    {
        for (int b = chain.Count - 1; b >= 0; b--)
        {
            var node = _blocks[chain[b].Key];
            _recency.Remove(node);
            _recency.AddFirst(node);
        }
    }

    private static UInt128 ToKey(byte[] hash) => BinaryPrimitives.ReadUInt128LittleEndian(hash);

    private static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => 4,
        ScalarType.BFloat16 or ScalarType.Float16 => 2,
        ScalarType.Float64 => 8,
        _ => throw new ArgumentException($"Unsupported KV dtype {dtype}."),
    };
}
