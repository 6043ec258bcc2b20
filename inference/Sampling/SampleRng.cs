namespace SpecEdge.Inference.Sampling;

/// <summary>
/// A counter-based random source: draw <c>k</c> of a sequence is a pure function of (seed, k). Its whole state is
/// <see cref="Position"/>, so it can be persisted with a conversation and resumed exactly anywhere.
/// </summary>
public sealed class SampleRng(ulong seed, long position = 0)
{
    public ulong Seed { get; } = seed;
    public long Position { get; private set; } = position;

    /// <summary>A uniform double in [0, 1).</summary>
    public double NextDouble()
    {
        ulong z = Seed + 0x9E3779B97F4A7C15UL * (ulong)(++Position);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;   // SplitMix64 finaliser
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
