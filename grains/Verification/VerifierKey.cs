namespace SpecEdge.Grains.Verification;

/// <summary>The key of a verifier: the silo that owns the device and the device's index on it.</summary>
public readonly record struct VerifierKey(string Silo, int Device)
{
    public override string ToString() => $"{Silo}|{Device}";

    public static VerifierKey Parse(string key)
    {
        int bar = key.LastIndexOf('|');
        if (bar <= 0 || !int.TryParse(key.AsSpan(bar + 1), out int device))
            throw new ArgumentException($"Verifier key '{key}' is not of the form 'silo|device'.");
        return new VerifierKey(key[..bar], device);
    }
}
