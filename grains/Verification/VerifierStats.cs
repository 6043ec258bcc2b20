namespace SpecEdge.Grains.Verification;

/// <summary>What a verifier has done: forwards run, how many items each batch carried, sessions and KV memory held.</summary>
[GenerateSerializer, Immutable]
public sealed record VerifierStats(
    [property: Id(0)] string Key,
    [property: Id(1)] int Forwards,
    [property: Id(2)] int[] BatchSizes,
    [property: Id(3)] int Sessions,
    [property: Id(4)] long KvBytes,
    [property: Id(5)] string Silo,
    [property: Id(6)] int Evictions,
    [property: Id(7)] double[] ForwardMilliseconds);
