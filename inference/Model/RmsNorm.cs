using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Model;

/// <summary>Root-mean-square layer norm as Llama/Qwen define it: normalise in fp32, cast back, then scale.</summary>
internal static class RmsNorm
{
    public static Tensor Apply(Tensor x, Tensor weight, double eps)
    {
        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32);
        var normed = x32 * x32.Power(2).mean(new long[] { -1 }, keepdim: true).Plus(eps).rsqrt();
        return (weight * normed.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
