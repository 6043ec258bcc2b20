using System.Text.Json.Nodes;
using SpecEdge.Inference.Weights;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Model;

/// <summary>
/// A Llama/Qwen3 decoder-only language model. <see cref="Forward"/> runs many sequences at once, each appending a token
/// tree to its own KV cache (projections and MLP run over all tokens packed together; attention is one call per layer
/// over the padded batch, with tree masks built on the device, see <see cref="AttentionPath"/>). <see cref="ForwardFull"/> is the plain causal forward without a cache, used for training and as
/// the reference the cached path is tested against.
/// </summary>
public sealed class CausalLm : IDisposable
{
    private readonly RotaryEmbedding _rope;
    private readonly CheckpointWeights? _checkpoint;

    public ModelConfig Config { get; }
    public ModelWeights Weights { get; }
    public ScalarType DType { get; }
    public Device Device { get; }
    /// <summary>Generation settings from generation_config.json when the model was loaded from a directory.</summary>
    public GenerationConfig Generation { get; init; } = GenerationConfig.Default;
    /// <summary>How attention runs over a batch; <see cref="AttentionPath.PerSequence"/> only for side-by-side measurement.</summary>
    public AttentionPath Attention { get; set; } = AttentionPath.Batched;

    /// <summary>
    /// How much more attention work than exact (a fraction) padding a batch to its longest sequence may cost before the
    /// batch is cut into length-sorted groups, one attention call each. On a CPU one call saves nothing and padding is
    /// wasted compute (measured: 0.25 left mixed-length batches ~6% slower than one call per sequence), so the default
    /// there is 0.05; on a GPU one call saves kernel launches, so the default allows 3x the exact work.
    /// </summary>
    public double MaxPaddingOverhead { get; set; } = double.NaN;

    private double PaddingOverhead => double.IsNaN(MaxPaddingOverhead) ? (Device.type == TorchSharp.DeviceType.CUDA ? 2.0 : 0.05) : MaxPaddingOverhead;

    /// <summary>
    /// The row block of the matrix products' kernel: a forward whose token rows are one short of a multiple of it gets
    /// one padding row, whose results are dropped. On this project's CPUs the product works four rows at a time and
    /// handles a tail of three slowly: 3 rows cost more than 4, 7 more than 8, at every size measured up to 32
    /// (docs/benchmarks/forward.md), while tails of one or two cost less than padding them. A one-token forward keeps its
    /// matrix-vector path. 1 turns padding off; the default is 4 on a CPU and 1 on a GPU.
    /// </summary>
    public int RowMultiple { get; set; } = 0;

    private int EffectiveRowMultiple => RowMultiple > 0 ? RowMultiple : Device.type == TorchSharp.DeviceType.CUDA ? 1 : 4;

    /// <summary>The rows the matrix products of a forward of <paramref name="rows"/> token rows run on.</summary>
    public int PaddedRows(int rows) => rows > 1 && EffectiveRowMultiple > 1 && (rows + 1) % EffectiveRowMultiple == 0 ? rows + 1 : rows;

    public CausalLm(ModelConfig config, ModelWeights weights, ScalarType dtype, Device device, CheckpointWeights? checkpoint = null)
    {
        Config = config; Weights = weights; DType = dtype; Device = device; _checkpoint = checkpoint;
        _rope = new RotaryEmbedding(config, device);
    }

    /// <summary>
    /// Loads a Hugging Face model directory (config.json, model.safetensors or a sharded index, generation_config.json).
    /// On CPU with the checkpoint's own dtype the weights stay memory-mapped.
    /// </summary>
    public static CausalLm Load(string directory, string dtype = "auto", string device = "cpu")
    {
        var config = ModelConfig.Load(Path.Combine(directory, "config.json"));
        var scalar = TensorSettings.ParseDType(dtype, config.TorchDtype);
        var dev = TensorSettings.ParseDevice(device);
        var checkpoint = CheckpointWeights.Open(directory);
        try
        {
            var weights = ModelWeights.Create(config, (name, shape) => checkpoint.Load(name, shape, scalar, dev));
            return new CausalLm(config, weights, scalar, dev, checkpoint)
            {
                Generation = GenerationConfig.Load(Path.Combine(directory, "generation_config.json"), config),
            };
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    /// <summary>Writes this model as a Hugging Face directory (config.json + model.safetensors).</summary>
    public void Save(string directory)
    {
        System.IO.Directory.CreateDirectory(directory);
        var json = Config with { TorchDtype = DType switch { ScalarType.BFloat16 => "bfloat16", ScalarType.Float16 => "float16", _ => "float32" } };
        File.WriteAllText(Path.Combine(directory, "config.json"), json.ToJson().ToJsonString(new() { WriteIndented = true }));
        SafeTensorsWriter.Write(Path.Combine(directory, "model.safetensors"), Weights.Named(),
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>A new empty KV cache for one sequence of up to <paramref name="capacity"/> tokens.</summary>
    public KvCache NewCache(int capacity) => new(Config, capacity, DType, Device);

    /// <summary>
    /// Appends each sequence's tree to its cache and returns, per sequence, fp32 logits [n_i, vocab] for its nodes
    /// (or [1, vocab] for the last node with <see cref="SequenceInput.LastLogitOnly"/>). Every input is validated
    /// before anything is written, so a bad sequence leaves all caches untouched.
    /// </summary>
    public Tensor[] Forward(IReadOnlyList<SequenceInput> batch) => Forward(batch, null, null);

    /// <summary>
    /// <see cref="Forward(IReadOnlyList{SequenceInput})"/> split at an early exit: after <paramref name="exit"/>'s layer
    /// the head's fp32 logits of every node of each input that wants all its logits (trees; null for the others) go to
    /// <paramref name="onExit"/>, synchronously, before the remaining layers run, with the token ids of their columns
    /// (null: the whole vocabulary; see <see cref="EarlyExitHead.Shortlist"/>). What the forward returns and writes to
    /// the caches is the same as unsplit.
    /// </summary>
    public Tensor[] Forward(IReadOnlyList<SequenceInput> batch, EarlyExitHead? exit, Action<Tensor?[], long[]?>? onExit)
    {
        if (batch.Count == 0) return Array.Empty<Tensor>();
        var seen = new HashSet<KvCache>(ReferenceEqualityComparer.Instance);
        foreach (var s in batch)
        {
            if (!seen.Add(s.Cache)) throw new ArgumentException("The same KV cache appears twice in one batch.");
            TreeLayout.Validate(s.Tokens, s.Parents, Config.VocabSize, s.Cache.PendingCount);
            if (s.CommitToPrefix && (s.Cache.PendingCount != 0 || !TreeLayout.Chain(s.Tokens.Length).SequenceEqual(s.Parents)))
                throw new ArgumentException("Tokens committed straight to the prefix must form a chain on a cache without a pending tree.");
            s.Cache.EnsureRoom(s.Tokens.Length);
        }

        using var scope = NewDisposeScope();
        int total = batch.Sum(s => s.Tokens.Length);
        // Rows past the tokens are padding (token 0 at position 0): they ride through the matrix products and norms, and
        // no attention, cache or output ever reads them.
        int paddedTotal = PaddedRows(total);
        var ids = new long[paddedTotal];
        var positions = new long[paddedTotal];
        var masks = new Tensor?[batch.Count];
        bool perSequence = Attention == AttentionPath.PerSequence;
        int offset = 0, maxPosition = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b];
            int prefix = s.Cache.PrefixLength;
            var depth = TreeLayout.Depths(s.Parents, s.Cache.PendingDepths);
            for (int i = 0; i < s.Tokens.Length; i++)
            {
                ids[offset + i] = s.Tokens[i];
                positions[offset + i] = prefix + depth[i];
                maxPosition = Math.Max(maxPosition, prefix + depth[i]);
            }
            // One token on a bare prefix sees everything: no mask needed. Otherwise the ancestor mask.
            if (perSequence && (s.Tokens.Length > 1 || s.Cache.PendingCount > 0))
                masks[b] = tensor(TreeLayout.AttentionMask(s.Parents, prefix, s.Cache.PendingParents),
                    new long[] { s.Tokens.Length, s.Cache.Length + s.Tokens.Length }, device: Device);
            offset += s.Tokens.Length;
        }

        var layouts = perSequence ? null : BatchAttentionLayout.Plan(batch, Config.QueryGroups, Device, PaddingOverhead,
            unmaskedDecodes: Device.type != TorchSharp.DeviceType.CUDA);
        var (cos, sin) = _rope.Lookup(tensor(positions, device: Device), maxPosition, DType);
        var x = Weights.embed_tokens.index_select(0, tensor(ids, device: Device));     // [N, d]
        for (int l = 0; l < Weights.layers.Length; l++)
        {
            if (exit is not null && onExit is not null && l == exit.Layer) EarlyExit(batch, x, exit, onExit);
            var w = Weights.layers[l];
            var h = RmsNorm.Apply(x, w.input_layernorm, Config.RmsNormEps);
            x = x.Plus(layouts is null ? PerSequenceAttention(l, w, h, batch, masks, cos, sin) : BatchedAttention(l, w, h, batch, layouts, cos, sin, total));
            h = RmsNorm.Apply(x, w.post_attention_layernorm, Config.RmsNormEps);
            x = x.Plus(Mlp(w, h));
        }
        if (exit is not null && onExit is not null && exit.Layer == Weights.layers.Length) EarlyExit(batch, x, exit, onExit);
        for (int b = 0; b < batch.Count; b++)
        {
            var s = batch[b];
            if (s.CommitToPrefix) s.Cache.AppendPrefix(s.Tokens.Length);
            else s.Cache.AppendPending(s.Parents, TreeLayout.Depths(s.Parents, s.Cache.PendingDepths));
        }

        // Only the rows whose logits were asked for go through the (vocabulary-sized) head.
        var rows = new List<long>();
        offset = 0;
        foreach (var s in batch)
        {
            if (s.LastLogitOnly) rows.Add(offset + s.Tokens.Length - 1);
            else for (int i = 0; i < s.Tokens.Length; i++) rows.Add(offset + i);
            offset += s.Tokens.Length;
        }
        // The head's rows are padded by the same rule, then cut back: when every token row is asked for, x already holds
        // them with the forward's padding row; otherwise the last selected row is repeated.
        int headRows = rows.Count;
        Tensor selected;
        if (headRows == total) selected = x;
        else
        {
            while (rows.Count < PaddedRows(headRows)) rows.Add(rows[^1]);
            selected = x.index_select(0, tensor(rows.ToArray(), device: Device));
        }
        var logits = F.linear(RmsNorm.Apply(selected, Weights.norm, Config.RmsNormEps), Weights.lm_head)
            .to_type(ScalarType.Float32);                                                   // [R', V]
        if (logits.shape[0] != headRows) logits = logits.narrow(0, 0, headRows);            // [R, V]

        var result = new Tensor[batch.Count];
        offset = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            int n = batch[b].LastLogitOnly ? 1 : batch[b].Tokens.Length;
            result[b] = logits.narrow(0, offset, n).MoveToOuterDisposeScope();
            offset += n;
        }
        return result;
    }

    /// <summary>The exit head over the rows of every input that wants all its logits, handed out per input.</summary>
    private static void EarlyExit(IReadOnlyList<SequenceInput> batch, Tensor x, EarlyExitHead exit, Action<Tensor?[], long[]?> onExit)
    {
        using var scope = NewDisposeScope();
        var rows = new List<long>();
        int offset = 0;
        foreach (var s in batch)
        {
            if (!s.LastLogitOnly) for (int i = 0; i < s.Tokens.Length; i++) rows.Add(offset + i);
            offset += s.Tokens.Length;
        }
        var perInput = new Tensor?[batch.Count];
        var candidates = exit.Candidates(batch.Where(s => !s.LastLogitOnly).SelectMany(s => s.Tokens));
        if (rows.Count > 0)
        {
            var logits = exit.Logits(x.index_select(0, tensor(rows.ToArray(), device: x.device)), candidates).to_type(ScalarType.Float32);   // [R, V or K]
            int row = 0;
            for (int b = 0; b < batch.Count; b++)
            {
                if (batch[b].LastLogitOnly) continue;
                perInput[b] = logits.narrow(0, row, batch[b].Tokens.Length);
                row += batch[b].Tokens.Length;
            }
        }
        onExit(perInput, candidates);
    }

    /// <summary>
    /// Attention for the whole batch in one call per layout (normally one): queries scattered into
    /// [B, Hkv, G*nmax, hd], keys and values of every cache stacked into [B, Hkv, Tmax, hd] (a single sequence uses its
    /// cache's views, no copy), the layout's device-built mask.
    /// </summary>
    private Tensor BatchedAttention(int layer, LayerWeights w, Tensor h, IReadOnlyList<SequenceInput> batch, BatchAttentionLayout[] layouts, Tensor cos, Tensor sin, int total)
    {
        var (q, k, v) = ProjectQkv(w, h, cos, sin);           // q [N', H, hd], k/v [N', Hkv, hd] (N' >= N: padding rows)
        if (q.shape[0] != total) q = q.narrow(0, 0, total);
        int offset = 0;
        foreach (var s in batch)
        {
            int n = s.Tokens.Length;
            s.Cache.Write(layer, k.narrow(0, offset, n).transpose(0, 1), v.narrow(0, offset, n).transpose(0, 1));
            offset += n;
        }
        Tensor attn;
        if (layouts.Length == 1)
        {
            attn = AttendGroup(layer, q, batch, layouts[0]);
        }
        else if (layouts.All(l => l.Batch == 1))
        {
            // Every sequence on its own (a CPU batch of unequal lengths): views in, one concatenation out.
            var ordered = layouts.OrderBy(l => l.Members[0]).ToArray();
            attn = cat(ordered.Select(l => AttendGroup(layer, q.narrow(0, l.PackedStart, batch[l.Members[0]].Tokens.Length), batch, l)).ToArray(), 0);
        }
        else
        {
            attn = empty(new long[] { q.shape[0], Config.NumAttentionHeads * Config.HeadDim }, dtype: q.dtype, device: q.device);
            foreach (var layout in layouts)
                attn.index_copy_(0, layout.PackedRows!, AttendGroup(layer, q.index_select(0, layout.PackedRows!), batch, layout));
        }
        return F.linear(PadRows(attn, h.shape[0]), w.o_proj, w.o_proj_bias);
    }

    /// <summary>One attention call for the sequences of <paramref name="layout"/>; <paramref name="q"/> holds their query rows, packed.</summary>
    private Tensor AttendGroup(int layer, Tensor q, IReadOnlyList<SequenceInput> batch, BatchAttentionLayout layout)
    {
        int heads = Config.NumAttentionHeads, kvHeads = Config.NumKeyValueHeads, hd = Config.HeadDim, groups = Config.QueryGroups;
        int b = layout.Batch, nmax = layout.MaxNew, tmax = layout.MaxKeys;
        var keys = new Tensor[b];
        var values = new Tensor[b];
        for (int s = 0; s < b; s++)
        {
            var cache = batch[layout.Members[s]].Cache;
            // Slots past a sequence's own length are masked out; where the cache is shorter than the longest, pad.
            (keys[s], values[s]) = cache.View(layer, Math.Min(tmax, cache.Capacity));
            if (keys[s].shape[1] < tmax)
            {
                keys[s] = F.pad(keys[s], [0, 0, 0, tmax - keys[s].shape[1]]);
                values[s] = F.pad(values[s], [0, 0, 0, tmax - values[s].shape[1]]);
            }
        }
        var kAll = b == 1 ? keys[0].unsqueeze(0) : stack(keys);                              // [B, Hkv, Tmax, hd]
        var vAll = b == 1 ? values[0].unsqueeze(0) : stack(values);
        bool unpadded = b == 1;
        Tensor qPadded = unpadded ? q
            : zeros(new long[] { b * nmax, heads, hd }, dtype: q.dtype, device: q.device).index_copy_(0, layout.PaddedRow, q);
        // Grouped-query attention without copying K/V: fold each KV head's query group into the row axis.
        var qs = qPadded.view(b, nmax, kvHeads, groups, hd).permute(0, 2, 3, 1, 4).reshape(b, kvHeads, groups * nmax, hd);
        var o = F.scaled_dot_product_attention(qs, kAll, vAll, layout.Mask);                // [B, Hkv, G*nmax, hd]
        var rows = o.view(b, heads, nmax, hd).permute(0, 2, 1, 3).reshape(b * nmax, heads * hd);   // [B*nmax, H*hd]
        return unpadded ? rows : rows.index_select(0, layout.PaddedRow);                    // [n, H*hd]
    }

    /// <summary><paramref name="rows"/> [N, ...] with zero rows appended up to <paramref name="padded"/>.</summary>
    private static Tensor PadRows(Tensor rows, long padded) => rows.shape[0] == padded ? rows : F.pad(rows, [0, 0, 0, padded - rows.shape[0]]);

    private Tensor PerSequenceAttention(int layer, LayerWeights w, Tensor h, IReadOnlyList<SequenceInput> batch, Tensor?[] masks, Tensor cos, Tensor sin)
    {
        int heads = Config.NumAttentionHeads, kvHeads = Config.NumKeyValueHeads, hd = Config.HeadDim, groups = Config.QueryGroups;
        var (q, k, v) = ProjectQkv(w, h, cos, sin);           // q [N, H, hd], k/v [N, Hkv, hd]

        var outputs = new Tensor[batch.Count];
        int offset = 0;
        for (int b = 0; b < batch.Count; b++)
        {
            var cache = batch[b].Cache;
            int n = batch[b].Tokens.Length, total = cache.Length + n;
            cache.Write(layer, k.narrow(0, offset, n).transpose(0, 1), v.narrow(0, offset, n).transpose(0, 1));
            var (keys, values) = cache.View(layer, total);                                  // [Hkv, S, hd]
            // Grouped-query attention without copying K/V: fold each KV head's query group into the row axis.
            var qs = q.narrow(0, offset, n).permute(1, 0, 2).reshape(1, kvHeads, groups * n, hd);   // [1, Hkv, G*n, hd]
            Tensor? mask = masks[b]?.repeat(groups, 1).view(1, 1, groups * n, total);
            var o = F.scaled_dot_product_attention(qs, keys.unsqueeze(0), values.unsqueeze(0), mask);  // [1, Hkv, G*n, hd]
            outputs[b] = o.reshape(heads, n, hd).permute(1, 0, 2).reshape(n, heads * hd);          // [n, H*hd]
            offset += n;
        }
        var attn = outputs.Length == 1 ? outputs[0] : cat(outputs, 0);
        return F.linear(PadRows(attn, h.shape[0]), w.o_proj, w.o_proj_bias);
    }

    /// <summary>Query/key/value projections with Qwen3's q/k norm and rotary embedding applied. Works on any leading shape.</summary>
    private (Tensor Q, Tensor K, Tensor V) ProjectQkv(LayerWeights w, Tensor h, Tensor cos, Tensor sin)
    {
        long[] lead = h.shape[..^1];
        var q = F.linear(h, w.q_proj, w.q_proj_bias).view([.. lead, Config.NumAttentionHeads, Config.HeadDim]);
        var k = F.linear(h, w.k_proj, w.k_proj_bias).view([.. lead, Config.NumKeyValueHeads, Config.HeadDim]);
        var v = F.linear(h, w.v_proj, w.v_proj_bias).view([.. lead, Config.NumKeyValueHeads, Config.HeadDim]);
        if (w.q_norm is not null) q = RmsNorm.Apply(q, w.q_norm, Config.RmsNormEps);
        if (w.k_norm is not null) k = RmsNorm.Apply(k, w.k_norm, Config.RmsNormEps);
        return (RotaryEmbedding.Apply(q, cos, sin), RotaryEmbedding.Apply(k, cos, sin), v);
    }

    private static Tensor Mlp(LayerWeights w, Tensor h) =>
        F.linear(F.silu(F.linear(h, w.gate_proj)) * F.linear(h, w.up_proj), w.down_proj);

    /// <summary>
    /// Plain causal forward over <paramref name="tokens"/> [B, T] (int64) from position 0, no cache: logits [B, T, vocab]
    /// in the model's dtype. Differentiable when the weights require grad.
    /// </summary>
    public Tensor ForwardFull(Tensor tokens) => ForwardFull(tokens, exitAfterLayers: -1).Logits;

    /// <summary>
    /// <see cref="ForwardFull(Tensor)"/> that also returns the residual stream after the first
    /// <paramref name="exitAfterLayers"/> layers ([B, T, d], before any norm): what an early-exit head reads. -1: none.
    /// </summary>
    public (Tensor Logits, Tensor? Exit) ForwardFull(Tensor tokens, int exitAfterLayers)
    {
        if (exitAfterLayers < -1 || exitAfterLayers > Config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(exitAfterLayers), exitAfterLayers, $"The model has {Config.NumHiddenLayers} layers.");
        using var scope = NewDisposeScope();
        Tensor? exit = null;
        long batch = tokens.shape[0], length = tokens.shape[1];
        int hd = Config.HeadDim;
        var (cos, sin) = _rope.Lookup(KeptScalars.Range(length, ScalarType.Int64, Device), (int)length - 1, DType);
        var x = Weights.embed_tokens.index_select(0, tokens.reshape(-1)).view(batch, length, Config.HiddenSize); // [B, T, d]
        for (int l = 0; l < Weights.layers.Length; l++)
        {
            if (l == exitAfterLayers) exit = x;
            var w = Weights.layers[l];
            var h = RmsNorm.Apply(x, w.input_layernorm, Config.RmsNormEps);
            var (q, k, v) = ProjectQkv(w, h, cos, sin);                                     // [B, T, H(kv), hd]
            q = q.transpose(1, 2);                                                          // [B, H, T, hd]
            k = k.transpose(1, 2).repeat_interleave(Config.QueryGroups, dim: 1);
            v = v.transpose(1, 2).repeat_interleave(Config.QueryGroups, dim: 1);
            var o = F.scaled_dot_product_attention(q, k, v, is_casual: true);                // [B, H, T, hd]
            x = x.Plus(F.linear(o.transpose(1, 2).reshape(batch, length, Config.NumAttentionHeads * hd), w.o_proj, w.o_proj_bias));
            h = RmsNorm.Apply(x, w.post_attention_layernorm, Config.RmsNormEps);
            x = x.Plus(Mlp(w, h));
        }
        if (exitAfterLayers == Weights.layers.Length) exit = x;
        return (F.linear(RmsNorm.Apply(x, Weights.norm, Config.RmsNormEps), Weights.lm_head).MoveToOuterDisposeScope(), exit?.MoveToOuterDisposeScope());
    }

    public void Dispose()
    {
        Weights.Dispose();
        _rope.Dispose();
        _checkpoint?.Dispose();
    }
}
