using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Model;

/// <summary>Tree structure computed on the device from parent indices, for masks and for acceptance.</summary>
public static class TreeAncestry
{
    /// <summary>
    /// For parents [B, M] (int64; a root, or a padding node, points at itself), the boolean [B, M, M] whose
    /// [b, u, v] is true when v is u or one of its ancestors. Pointer doubling: log2(M) batched matrix products of
    /// M x M, no loop over nodes and nothing read back to the host.
    /// </summary>
    public static Tensor AncestorOrSelf(Tensor parents)
    {
        using var scope = NewDisposeScope();
        long b = parents.shape[0], m = parents.shape[1];
        var identity = eye(m, dtype: ScalarType.Float32, device: parents.device).expand(b, m, m);
        var step = zeros(new long[] { b, m, m }, dtype: ScalarType.Float32, device: parents.device)
            .scatter_(2, parents.unsqueeze(-1), ones(new long[] { b, m, 1 }, dtype: ScalarType.Float32, device: parents.device));
        var reach = identity.Plus(step).AtMost(1);                  // u itself and its parent
        for (long span = 2; span < m * 2; span *= 2)
        {
            reach = reach.bmm(reach).AtMost(1);              // ancestors within twice the distance
        }
        return reach.Gt(0).MoveToOuterDisposeScope();
    }
}
