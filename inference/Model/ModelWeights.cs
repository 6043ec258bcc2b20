using static TorchSharp.torch;

namespace SpecEdge.Inference.Model;

/// <summary>
/// All tensors of a Llama/Qwen3 causal LM, keyed like the checkpoint. Built either from a checkpoint (memory-mapped where
/// possible) or randomly initialised (tests, training). Weight shapes are derived from <see cref="ModelConfig"/>, so a
/// checkpoint whose tensors disagree with its config.json is rejected while loading.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    public required Tensor embed_tokens { get; init; }
    public required LayerWeights[] layers { get; init; }
    public required Tensor norm { get; init; }
    /// <summary>The output projection; the same tensor as <see cref="embed_tokens"/> when embeddings are tied.</summary>
    public required Tensor lm_head { get; init; }
    public required bool Tied { get; init; }

    /// <summary>Checkpoint key -> tensor (the tied lm_head is not repeated, as in HF checkpoints).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Named()
    {
        yield return new("model.embed_tokens.weight", embed_tokens);
        for (int i = 0; i < layers.Length; i++)
            foreach (var kv in layers[i].Named(i)) yield return kv;
        yield return new("model.norm.weight", norm);
        if (!Tied) yield return new("lm_head.weight", lm_head);
    }

    public IEnumerable<Tensor> All => Named().Select(kv => kv.Value);

    /// <summary>Builds the weights by asking <paramref name="source"/> for each checkpoint key with its expected shape.</summary>
    public static ModelWeights Create(ModelConfig c, Func<string, long[], Tensor> source)
    {
        long d = c.HiddenSize, q = (long)c.NumAttentionHeads * c.HeadDim, kv = (long)c.NumKeyValueHeads * c.HeadDim;
        var embed = source("model.embed_tokens.weight", new[] { (long)c.VocabSize, d });
        var layers = new LayerWeights[c.NumHiddenLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"model.layers.{i}.";
            Tensor W(string name, params long[] shape) => source(p + name, shape);
            layers[i] = new LayerWeights
            {
                input_layernorm = W("input_layernorm.weight", d),
                q_proj = W("self_attn.q_proj.weight", q, d),
                k_proj = W("self_attn.k_proj.weight", kv, d),
                v_proj = W("self_attn.v_proj.weight", kv, d),
                o_proj = W("self_attn.o_proj.weight", d, q),
                q_proj_bias = c.AttentionBias ? W("self_attn.q_proj.bias", q) : null,
                k_proj_bias = c.AttentionBias ? W("self_attn.k_proj.bias", kv) : null,
                v_proj_bias = c.AttentionBias ? W("self_attn.v_proj.bias", kv) : null,
                o_proj_bias = c.AttentionBias ? W("self_attn.o_proj.bias", d) : null,
                q_norm = c.HasQkNorm ? W("self_attn.q_norm.weight", c.HeadDim) : null,
                k_norm = c.HasQkNorm ? W("self_attn.k_norm.weight", c.HeadDim) : null,
                post_attention_layernorm = W("post_attention_layernorm.weight", d),
                gate_proj = W("mlp.gate_proj.weight", c.IntermediateSize, d),
                up_proj = W("mlp.up_proj.weight", c.IntermediateSize, d),
                down_proj = W("mlp.down_proj.weight", d, c.IntermediateSize),
            };
        }
        var norm = source("model.norm.weight", new[] { d });
        var head = c.TieWordEmbeddings ? embed : source("lm_head.weight", new[] { (long)c.VocabSize, d });
        return new ModelWeights { embed_tokens = embed, layers = layers, norm = norm, lm_head = head, Tied = c.TieWordEmbeddings };
    }

    /// <summary>
    /// Random weights in the usual scheme (normal(0, std) for matrices, ones for norms, zeros for biases), seeded so
    /// tests are reproducible. With <paramref name="requiresGrad"/> the tensors are trainable leaves.
    /// </summary>
    public static ModelWeights Random(ModelConfig c, long seed, ScalarType dtype, Device? device = null, double std = 0.02, bool requiresGrad = false)
    {
        var generator = new Generator((ulong)seed);
        device ??= CPU;
        return Create(c, (name, shape) =>
        {
            Tensor t;
            if (name.EndsWith("norm.weight") || name.EndsWith("layernorm.weight")) t = ones(shape, dtype: ScalarType.Float32);
            else if (name.EndsWith(".bias")) t = zeros(shape, dtype: ScalarType.Float32);
            else t = normal(0, std, shape, dtype: ScalarType.Float32, generator: generator);
            var result = t.to(dtype, device);
            if (!ReferenceEquals(result, t)) t.Dispose();
            return requiresGrad ? new TorchSharp.Modules.Parameter(result, true) : result;
        });
    }

    public void Dispose()
    {
        foreach (var t in All) t.Dispose();
    }
}
