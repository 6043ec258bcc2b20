using static TorchSharp.torch;
using SpecEdge.Inference;

namespace SpecEdge.Inference.Model;

/// <summary>
/// Rotary position embedding tables (HF "rotate_half" layout), including Llama-3 and linear frequency scaling.
/// Tables are kept in fp32 and grown on demand; lookups are by absolute position, so tree nodes at equal depth share one.
/// </summary>
internal sealed class RotaryEmbedding : IDisposable
{
    private readonly float[] _invFreq;
    private readonly double _positionScale;
    private readonly Device _device;
    private Tensor _cos = null!, _sin = null!; // [P, head_dim], fp32
    private int _length;

    public RotaryEmbedding(ModelConfig config, Device device)
    {
        _device = device;
        int half = config.HeadDim / 2;
        _invFreq = new float[half];
        for (int i = 0; i < half; i++)
            _invFreq[i] = (float)(1.0 / Math.Pow(config.RopeTheta, 2.0 * i / config.HeadDim));
        _positionScale = 1.0;
        if (config.RopeScaling is { Type: "llama3" } s) ApplyLlama3Scaling(s);
        else if (config.RopeScaling is { Type: "linear" } lin) _positionScale = 1.0 / lin.Factor;
        Grow(Math.Max(256, Math.Min(config.MaxPositionEmbeddings, 4096)));
    }

    // Llama 3.1: long wavelengths are divided by the factor, short ones kept, the band between interpolated smoothly.
    private void ApplyLlama3Scaling(RopeScaling s)
    {
        double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        for (int i = 0; i < _invFreq.Length; i++)
        {
            double f = _invFreq[i];
            double wavelen = 2 * Math.PI / f;
            double scaled = wavelen > lowWavelen ? f / s.Factor : f;
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen))
            {
                double smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
                scaled = (1 - smooth) * scaled / s.Factor + smooth * scaled;
            }
            _invFreq[i] = (float)scaled;
        }
    }

    private void Grow(int length)
    {
        _cos?.Dispose(); _sin?.Dispose();
        using var scope = NewDisposeScope();
        var positions = KeptScalars.Range(length, ScalarType.Float32, CPU).Times((double)(float)_positionScale);   // [P]
        var freqs = outer(positions, tensor(_invFreq));                                        // [P, hd/2]
        var emb = cat(new[] { freqs, freqs }, -1);                                              // [P, hd]
        // Detached from every scope: a table grown inside a forward (a context past the first table) must outlive that
        // forward's scope, which would otherwise dispose it and fail every later forward ("empty handle").
        _cos = emb.cos().to(_device).DetachFromDisposeScope();
        _sin = emb.sin().to(_device).DetachFromDisposeScope();
        _length = length;
    }

    /// <summary>cos/sin rows for <paramref name="positions"/> ([N] int64), as <paramref name="dtype"/>: two [N, head_dim] tensors.</summary>
    public (Tensor Cos, Tensor Sin) Lookup(Tensor positions, int maxPosition, ScalarType dtype)
    {
        if (maxPosition >= _length) Grow(Math.Max(maxPosition + 1, _length * 2));
        return (_cos.index_select(0, positions).to_type(dtype), _sin.index_select(0, positions).to_type(dtype));
    }

    /// <summary>Rotates <paramref name="x"/> [..., N, heads, head_dim] with cos/sin [N, head_dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        var c = cos.unsqueeze(-2);                                   // [N, 1, hd]
        var s = sin.unsqueeze(-2);
        var rotated = cat(new[] { -x.narrow(-1, half, half), x.narrow(-1, 0, half) }, -1);
        return (x * c).Plus(rotated * s).MoveToOuterDisposeScope();
    }

    public void Dispose() { _cos?.Dispose(); _sin?.Dispose(); }
}
