using TorchSharp;
using static TorchSharp.torch;

namespace SpecEdge.Inference;

/// <summary>
/// Tensor operations whose scalar arguments stay alive until the native call returns. TorchSharp turns a number (and
/// the implicit <c>alpha</c> of <c>a + b</c>) into a temporary <see cref="Scalar"/>, reads its handle
/// and calls libtorch; nothing references the temporary after that, so a garbage collection on another thread can run
/// its finalizer, which frees the native scalar while libtorch still reads it. Under parallel load that surfaced as
/// "Expected false to be true ... Scalar.h" from add, clamp_max and friends (CI, soak edges, 2026-12-06). Here a
/// constant is a static field (never collected) and any other value is disposed after the call (so kept alive until
/// then). Every hot path of the inference library uses these instead of the operators.
/// </summary>
internal static class KeptScalars
{
    private static readonly Scalar One = 1;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    // Integer and floating overloads: an integer tensor plus a floating scalar would be promoted to a floating tensor.

    public static Tensor Plus(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.add(s);
    }

    public static Tensor Plus(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.add(s);
    }

    public static Tensor Times(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.mul(s);
    }

    public static Tensor Times(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.mul(s);
    }

    /// <summary><c>a / value</c>.</summary>
    public static Tensor Over(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.div(s);
    }

    public static Tensor Power(this Tensor a, long exponent)
    {
        using var s = exponent.ToScalar();
        return a.pow(s);
    }

    public static Tensor AtMost(this Tensor a, long max)
    {
        using var s = max.ToScalar();
        return a.clamp_max(s);
    }

    public static Tensor Within(this Tensor a, long min, long max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return a.clamp(lo, hi);
    }

    public static Tensor Eq(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.eq(s);
    }

    public static Tensor Gt(this Tensor a, double value)
    {
        using var s = value.ToScalar();
        return a.gt(s);
    }

    public static Tensor Ge(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.ge(s);
    }

    public static Tensor Lt(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.lt(s);
    }

    public static Tensor Le(this Tensor a, long value)
    {
        using var s = value.ToScalar();
        return a.le(s);
    }

    /// <summary><c>full_like(like, value)</c>.</summary>
    public static Tensor FullLike(Tensor like, long value)
    {
        using var s = value.ToScalar();
        return full_like(like, s);
    }

    /// <summary><c>arange(stop)</c> as <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public static Tensor Range(long stop, ScalarType dtype, Device device)
    {
        using var s = stop.ToScalar();
        return arange(s, dtype: dtype, device: device);
    }
}
