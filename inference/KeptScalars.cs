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
    private static readonly Scalar Zero = 0;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    // Integer and floating overloads: an integer tensor plus a floating scalar would be promoted to a floating tensor.
    // add(Scalar) has a hidden alpha too (TorchSharp passes a temporary 1): pass the kept one.
    public static Tensor Plus(this Tensor a, long value) => With(value.ToScalar(), s => a.add(s, One));
    public static Tensor Plus(this Tensor a, double value) => With(value.ToScalar(), s => a.add(s, One));
    public static Tensor Times(this Tensor a, long value) => With(value.ToScalar(), a.mul);
    public static Tensor Times(this Tensor a, double value) => With(value.ToScalar(), a.mul);
    /// <summary><c>a / value</c>.</summary>
    public static Tensor Over(this Tensor a, double value) => With(value.ToScalar(), s => a.div(s));
    public static Tensor Power(this Tensor a, long exponent) => With(exponent.ToScalar(), s => a.pow(s));
    public static Tensor AtMost(this Tensor a, long max) => With(max.ToScalar(), a.clamp_max);
    public static Tensor Eq(this Tensor a, long value) => With(value.ToScalar(), a.eq);
    public static Tensor Gt(this Tensor a, double value) => With(value.ToScalar(), a.gt);
    public static Tensor Ge(this Tensor a, long value) => With(value.ToScalar(), a.ge);
    public static Tensor Lt(this Tensor a, long value) => With(value.ToScalar(), a.lt);
    public static Tensor Le(this Tensor a, long value) => With(value.ToScalar(), a.le);

    public static Tensor Within(this Tensor a, long min, long max)
    {
        using var lo = min.ToScalar();
        using var hi = max.ToScalar();
        return a.clamp(lo, hi);
    }

    /// <summary><c>a.index_add_(dim, index, source)</c> (its alpha is a hidden temporary too).</summary>
    public static Tensor IndexAddInPlace(this Tensor a, long dim, Tensor index, Tensor source) => a.index_add_(dim, index, source, One);

    /// <summary><c>a.masked_fill_(mask, -inf)</c>, in place.</summary>
    public static Tensor FillNegativeInfinityInPlace(this Tensor a, Tensor mask) => a.masked_fill_(mask, NegativeInfinity);

    private static readonly Scalar NegativeInfinity = float.NegativeInfinity;

    /// <summary><c>full_like(like, value)</c>.</summary>
    public static Tensor FullLike(Tensor like, long value) => With(value.ToScalar(), s => full_like(like, s));

    /// <summary><c>arange(stop)</c> as <paramref name="dtype"/> on <paramref name="device"/>.</summary>
    public static Tensor Range(long stop, ScalarType dtype, Device device) =>
        With(stop.ToScalar(), s => arange(Zero, s, One, dtype: dtype, device: device));   // arange(stop) makes its start and step temporaries

    /// <summary>Runs <paramref name="op"/> on <paramref name="scalar"/>, which stays alive until it returns, then frees it.</summary>
    private static Tensor With(Scalar scalar, Func<Scalar, Tensor> op)
    {
        using (scalar) return op(scalar);
    }
}
