namespace SpecEdge.Contracts;

/// <summary>
/// A read-only view of a conversation. <see cref="Seed"/> is the sampling seed in force (the caller's, or the random
/// one the session chose): configuring it again reproduces the conversation's samples.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.SessionSnapshot")]
public sealed record SessionSnapshot(
    [property: Id(0)] string SessionId,
    [property: Id(1)] ChatTurn[] Messages,
    [property: Id(2)] int CommittedTokens,
    [property: Id(3)] long Step,
    [property: Id(4)] string? AttachedEdge,
    [property: Id(5)] bool Generating,
    [property: Id(6)] string? Silo,
    [property: Id(7)] ulong? Seed = null);
