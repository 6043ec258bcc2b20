namespace SpecEdge.Contracts;

/// <summary>
/// A reply has begun: <see cref="AppendedTokens"/> (the formatted user message) were committed, so the conversation
/// now has <see cref="CommittedLength"/> tokens and the next tree is for step <see cref="Step"/>.
/// <see cref="CachedTokens"/> of them the verifier did not compute for this turn: it held them (earlier turns) or copied
/// them from its device's prefix cache.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.TurnStarted")]
public sealed record TurnStarted(
    [property: Id(0)] string SessionId,
    [property: Id(1)] int[] AppendedTokens,
    [property: Id(2)] int CommittedLength,
    [property: Id(3)] long Step,
    [property: Id(4)] int CachedTokens = 0);
