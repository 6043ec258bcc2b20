using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Model;

/// <summary>
/// The padded layout of one attention call of a batched forward, as device tensors built once and shared by every layer. Sequence
/// <c>b</c> has <c>n_b</c> new tokens and <c>T_b</c> = cached + new key slots; queries are padded to
/// <see cref="MaxNew"/> rows and keys to <see cref="MaxKeys"/> slots. The mask is derived on the device from the
/// parent indices of each sequence's whole tree (its pending nodes, then the new ones): only small integer arrays
/// cross from the host, never a mask. Disposed with the forward's dispose scope.
/// </summary>
internal sealed class BatchAttentionLayout
{
    /// <summary>Indices into the forward's batch of the sequences this layout covers, in order.</summary>
    public required int[] Members { get; init; }
    /// <summary>Packed rows (of the whole forward) of this layout's tokens; null when it covers the whole batch in order.</summary>
    public required Tensor? PackedRows { get; init; }
    public int Batch => Members.Length;
    /// <summary>First packed row of this layout's tokens when they are one contiguous range (a single sequence).</summary>
    public int PackedStart { get; init; }
    public required int MaxNew { get; init; }
    public required int MaxKeys { get; init; }
    /// <summary>For each packed token row (sequence-major), its row in the padded [Batch * MaxNew] layout.</summary>
    public required Tensor PaddedRow { get; init; }
    /// <summary>[Batch, 1, groups * MaxNew, MaxKeys] boolean: true where a query may attend; null when every row sees every key.</summary>
    public required Tensor? Mask { get; init; }

    /// <summary>
    /// The layouts of one forward: one for the whole batch, unless padding every sequence to the longest would cost more
    /// than <paramref name="maxPaddingOverhead"/> (a fraction) above the exact attention work; then sequences sorted by
    /// key length are cut into consecutive groups that each stay within it, one attention call per group.
    /// </summary>
    /// <param name="unmaskedDecodes">
    /// Keep one-token decodes of unequal length apart (CPU): with a mask attention loses the fused kernel it uses
    /// without one, which costs plain decoding more than the extra calls.
    /// </param>
    public static BatchAttentionLayout[] Plan(IReadOnlyList<SequenceInput> all, int groups, Device device, double maxPaddingOverhead, bool unmaskedDecodes)
    {
        var packedStart = new int[all.Count];
        for (int s = 1; s < all.Count; s++) packedStart[s] = packedStart[s - 1] + all[s - 1].Tokens.Length;
        long Keys(int s) => all[s].Cache.Length + all[s].Tokens.Length;
        bool IsDecode(int s) => all[s].Tokens.Length == 1 && all[s].Cache.PendingCount == 0;
        bool Fits(IReadOnlyList<int> members)
        {
            if (unmaskedDecodes && members.Count > 1 && members.All(IsDecode) && members.Select(Keys).Distinct().Count() > 1)
                return false;
            long nmax = members.Max(s => all[s].Tokens.Length), tmax = members.Max(Keys);
            double exact = members.Sum(s => (double)all[s].Tokens.Length * Keys(s));
            return members.Count * nmax * tmax <= (1 + maxPaddingOverhead) * exact;
        }
        var everyone = Enumerable.Range(0, all.Count).ToArray();
        if (Fits(everyone))
        {
            return [Build(all, everyone, packedRows: null, groups, device)];
        }
        var cuts = new List<List<int>>();
        foreach (int s in everyone.OrderBy(Keys))
        {
            if (cuts.Count > 0 && Fits([.. cuts[^1], s])) cuts[^1].Add(s);
            else cuts.Add([s]);
        }
        return cuts.Select(members =>
        {
            var rows = members.SelectMany(s => Enumerable.Range(packedStart[s], all[s].Tokens.Length)).Select(r => (long)r).ToArray();
            var layout = Build(all, members.ToArray(), tensor(rows, device: device), groups, device);
            return members.Count == 1 ? layout.With(packedStart[members[0]]) : layout;
        }).ToArray();
    }

    private BatchAttentionLayout With(int packedStart) => new()
    {
        Members = Members, PackedRows = PackedRows, PackedStart = packedStart, MaxNew = MaxNew, MaxKeys = MaxKeys,
        PaddedRow = PaddedRow, Mask = Mask,
    };

    private static BatchAttentionLayout Build(IReadOnlyList<SequenceInput> all, int[] members, Tensor? packedRows, int groups, Device device)
    {
        var batch = members.Select(m => all[m]).ToArray();
        int b = batch.Length;
        int maxNew = batch.Max(s => s.Tokens.Length);
        int maxKeys = batch.Max(s => s.Cache.Length + s.Tokens.Length);
        int maxTree = batch.Max(s => s.Cache.PendingCount + s.Tokens.Length);
        var paddedRow = new long[batch.Sum(s => s.Tokens.Length)];
        // Per sequence: committed prefix length, pending count, new count, and the parents of its whole tree with -1
        // (off the prefix) and padding written as "own index" so the ancestor closure below needs no special case.
        var prefix = new long[b];
        var pending = new long[b];
        var fresh = new long[b];
        var parents = new long[b * maxTree];
        bool needsMask = false;
        int row = 0;
        for (int s = 0; s < b; s++)
        {
            var input = batch[s];
            int m = input.Cache.PendingCount, n = input.Tokens.Length;
            prefix[s] = input.Cache.PrefixLength;
            pending[s] = m;
            fresh[s] = n;
            for (int i = 0; i < n; i++) paddedRow[row++] = (long)s * maxNew + i;
            for (int u = 0; u < maxTree; u++)
            {
                int p = u < m ? input.Cache.PendingParents[u] : u < m + n ? input.Parents[u - m] : -1;
                parents[s * maxTree + u] = p < 0 ? u : p;
            }
            needsMask |= n > 1 || m > 0;
        }
        // One token per sequence on bare prefixes of one length sees every key: no mask needed.
        needsMask |= batch.Select(s => s.Cache.Length).Distinct().Count() > 1;
        var paddedRowTensor = tensor(paddedRow, device: device);
        if (!needsMask)
        {
            return new BatchAttentionLayout { Members = members, PackedRows = packedRows, MaxNew = maxNew, MaxKeys = maxKeys, PaddedRow = paddedRowTensor, Mask = null };
        }

        var prefixT = tensor(prefix, device: device).view(b, 1, 1);                          // [B, 1, 1]
        var slot = KeptScalars.Range(maxKeys, ScalarType.Int64, device).view(1, 1, maxKeys);
        if (maxTree == 1)
        {
            // Plain decoding: one new token per sequence, no trees; each sees its prefix and itself.
            var decodeMask = slot.le(prefixT).unsqueeze(1).expand(b, groups, 1, maxKeys).reshape(b, 1, groups, maxKeys);
            return new BatchAttentionLayout { Members = members, PackedRows = packedRows, MaxNew = maxNew, MaxKeys = maxKeys, PaddedRow = paddedRowTensor, Mask = decodeMask };
        }
        var pendingT = tensor(pending, device: device).view(b, 1);                           // [B, 1]
        var freshT = tensor(fresh, device: device).view(b, 1, 1);                            // [B, 1, 1]
        var ancestors = TreeAncestry.AncestorOrSelf(tensor(parents, device: device).view(b, maxTree)); // [B, M, M] bool

        // Query row i of sequence s is tree node pending_s + i; key slot c is prefix slot c, or tree node c - prefix_s.
        var queryNode = KeptScalars.Range(maxNew, ScalarType.Int64, device).view(1, maxNew).Plus(pendingT)
            .AtMost(maxTree - 1);                                                          // [B, nmax]
        var treeNode = slot - prefixT;                                                        // [B, 1, Tmax]
        var treeRows = ancestors.gather(1, queryNode.unsqueeze(-1).expand(b, maxNew, maxTree)); // [B, nmax, M]
        var seesNode = treeRows.gather(2, treeNode.Within(0, maxTree - 1).expand(b, maxNew, maxKeys)); // [B, nmax, Tmax]
        var inTree = treeNode.Ge(0) & treeNode.lt(pendingT.unsqueeze(-1).Plus(freshT));
        var mask = slot.lt(prefixT) | (seesNode & inTree);
        // Padding rows attend to everything (a row with no key would be NaN); their outputs are dropped.
        var isPadding = KeptScalars.Range(maxNew, ScalarType.Int64, device).view(1, maxNew, 1).ge(freshT);
        mask = mask | isPadding;                                                              // [B, nmax, Tmax]
        mask = mask.unsqueeze(1).expand(b, groups, maxNew, maxKeys).reshape(b, 1, groups * maxNew, maxKeys);
        return new BatchAttentionLayout { Members = members, PackedRows = packedRows, MaxNew = maxNew, MaxKeys = maxKeys, PaddedRow = paddedRowTensor, Mask = mask };
    }
}
