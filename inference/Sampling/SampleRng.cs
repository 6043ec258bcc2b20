namespace SpecEdge.Inference.Sampling;

/// <summary>
/// The uniform draws behind sampling, keyed by conversation position: the draw for the token at absolute position
/// <c>p</c> of a conversation is a pure function of (seed, p). There is no counter to advance or persist, so a
/// conversation resumes anywhere (another edge, another silo, after an eviction) with exactly the draws it would have
/// had, and no draft tree, batch or path can change which draw decides a position.
/// </summary>
public readonly record struct SampleRng(ulong Seed)
{
    /// <summary>A uniform double in [0, 1) for the token at absolute position <paramref name="position"/> (0-based).</summary>
    public double At(long position)
    {
        // SplitMix64 of (seed, position): the seed is mixed first so that neighbouring seeds give unrelated streams.
        ulong z = Mix(Seed ^ 0x6A09E667F3BCC909UL) + 0x9E3779B97F4A7C15UL * (ulong)(position + 1);
        return (Mix(z) >> 11) * (1.0 / (1UL << 53));
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
