using static TorchSharp.torch;

namespace SpecEdge.Inference.Model;

/// <summary>Root-mean-square layer norm as Llama/Qwen define it: normalise in fp32, cast back, then scale.</summary>
internal static class RmsNorm
{
    public static Tensor Apply(Tensor x, Tensor weight, double eps)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32);
        var normed = x32 * (x32.pow(2).mean(new long[] { -1 }, keepdim: true) + eps).rsqrt();
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
