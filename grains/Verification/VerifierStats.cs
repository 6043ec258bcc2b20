namespace SpecEdge.Grains.Verification;

/// <summary>
/// What a verifier has done: forwards run, how many items each recent batch carried (the last
/// <see cref="ForwardRecord.RecentForwards"/>: <see cref="BatchSizes"/> ends with forward number <see cref="Forwards"/>),
/// sessions and KV memory held; for each recent forward its device time and (<see cref="ForwardStartUnixMicroseconds"/>) when it started;
/// the typical edge turnaround the device plans and prices with (<see cref="PipelineBatchPlanner.TurnaroundMs"/>; NaN until measured).
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.VerifierStats")]
public sealed record VerifierStats(
    [property: Id(0)] string Key,
    [property: Id(1)] long Forwards,
    [property: Id(2)] int[] BatchSizes,
    [property: Id(3)] int Sessions,
    [property: Id(4)] long KvBytes,
    [property: Id(5)] string Silo,
    [property: Id(6)] int Evictions,
    [property: Id(7)] double[] ForwardMilliseconds,
    [property: Id(8)] long[]? ForwardStartUnixMicroseconds = null,
    [property: Id(9)] PrefixCacheStats? Prefixes = null,
    [property: Id(10)] ServerDraftStats? ServerDrafts = null,
    [property: Id(11)] double EdgeTurnaroundMs = double.NaN)
{
    /// <summary>Device milliseconds of the forwards run after the first <paramref name="forwardsBefore"/> (as far as the window reaches back).</summary>
    public double[] ForwardMillisecondsSince(long forwardsBefore) => ForwardMilliseconds[^(int)Math.Clamp(Forwards - forwardsBefore, 0, ForwardMilliseconds.Length)..];

    /// <summary>Sizes of the batches run after the first <paramref name="forwardsBefore"/> forwards (as far as the window reaches back).</summary>
    public int[] BatchesSince(long forwardsBefore) => BatchSizes[^(int)Math.Clamp(Forwards - forwardsBefore, 0, BatchSizes.Length)..];
}

/// <summary>The device's prefix cache: blocks held, their bytes (within the KV budget), and prompt tokens reused so far.</summary>
[GenerateSerializer, Immutable, Alias("specedge.PrefixCacheStats")]
public sealed record PrefixCacheStats(
    [property: Id(0)] int Blocks,
    [property: Id(1)] long Bytes,
    [property: Id(2)] long CapacityBytes,
    [property: Id(3)] long ReusedTokens,
    [property: Id(4)] long Restores,
    [property: Id(5)] long EvictedBlocks);

/// <summary>
/// The device's own drafting (a silo with a server draft model): steps whose tree it drafted, steps it decoded plainly
/// because drafting did not pay at the load of the moment (TrimRule.DraftsServerTrees), and what its drafting brings
/// and costs as learnt so far (NaN until known: tokens per step, drafting milliseconds per tree and per pass besides,
/// nodes verified per tree), and the drafting passes run (fewer than the drafted steps when trees were drafted together).
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.ServerDraftStats")]
public sealed record ServerDraftStats(
    [property: Id(0)] long DraftedSteps,
    [property: Id(1)] long PlainSteps,
    [property: Id(2)] double TokensPerStep,
    [property: Id(3)] double DraftMilliseconds,
    [property: Id(4)] double VerifiedNodes,
    [property: Id(5)] double DraftPassMilliseconds = double.NaN,
    [property: Id(6)] long DraftPasses = 0);
