using static TorchSharp.torch;

namespace SpecEdge.Inference.Model;

/// <summary>The tensors of one decoder layer, named after their checkpoint keys (<c>model.layers.{i}.…</c>).</summary>
public sealed class LayerWeights
{
    public required Tensor input_layernorm { get; init; }
    public required Tensor q_proj { get; init; }
    public required Tensor k_proj { get; init; }
    public required Tensor v_proj { get; init; }
    public required Tensor o_proj { get; init; }
    public Tensor? q_proj_bias { get; init; }
    public Tensor? k_proj_bias { get; init; }
    public Tensor? v_proj_bias { get; init; }
    public Tensor? o_proj_bias { get; init; }
    /// <summary>Qwen3 only: per-head RMSNorm of queries and keys.</summary>
    public Tensor? q_norm { get; init; }
    public Tensor? k_norm { get; init; }
    public required Tensor post_attention_layernorm { get; init; }
    public required Tensor gate_proj { get; init; }
    public required Tensor up_proj { get; init; }
    public required Tensor down_proj { get; init; }

    /// <summary>Checkpoint key -> tensor for this layer, in the Hugging Face naming.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Named(int index)
    {
        string p = $"model.layers.{index}.";
        yield return new(p + "input_layernorm.weight", input_layernorm);
        yield return new(p + "self_attn.q_proj.weight", q_proj);
        yield return new(p + "self_attn.k_proj.weight", k_proj);
        yield return new(p + "self_attn.v_proj.weight", v_proj);
        yield return new(p + "self_attn.o_proj.weight", o_proj);
        if (q_proj_bias is not null) yield return new(p + "self_attn.q_proj.bias", q_proj_bias);
        if (k_proj_bias is not null) yield return new(p + "self_attn.k_proj.bias", k_proj_bias);
        if (v_proj_bias is not null) yield return new(p + "self_attn.v_proj.bias", v_proj_bias);
        if (o_proj_bias is not null) yield return new(p + "self_attn.o_proj.bias", o_proj_bias);
        if (q_norm is not null) yield return new(p + "self_attn.q_norm.weight", q_norm);
        if (k_norm is not null) yield return new(p + "self_attn.k_norm.weight", k_norm);
        yield return new(p + "post_attention_layernorm.weight", post_attention_layernorm);
        yield return new(p + "mlp.gate_proj.weight", gate_proj);
        yield return new(p + "mlp.up_proj.weight", up_proj);
        yield return new(p + "mlp.down_proj.weight", down_proj);
    }
}
