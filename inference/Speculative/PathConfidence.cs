namespace SpecEdge.Inference.Speculative;

/// <summary>
/// The draft's probability that a tree node's whole path is accepted, in one byte per node: what the verifier prices a
/// tree by (see <see cref="TreeTrimmer"/>). Log scale, 1/16 of a bit per step: byte b stands for 2^(-b/16), so 0 is
/// certainty, 255 is about 1.6e-5 (and anything less likely), and neighbouring values differ by 4.4 %. Path
/// probabilities span orders of magnitude along a path, which a linear byte would flatten to 0 beyond depth two or three.
/// </summary>
public static class PathConfidence
{
    private const double StepsPerBit = 16;

    /// <summary>The byte for a natural-log path probability (0 or less; anything above 0 is taken as certainty).</summary>
    public static byte Encode(double logProbability)
    {
        if (double.IsNaN(logProbability)) return byte.MaxValue;
        double steps = -logProbability / Math.Log(2) * StepsPerBit;
        return (byte)Math.Clamp(Math.Round(steps), 0, byte.MaxValue);
    }

    /// <summary>The probability a byte stands for.</summary>
    public static double Decode(byte value) => Math.Pow(2, -value / StepsPerBit);
}
