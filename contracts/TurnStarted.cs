namespace SpecEdge.Contracts;

/// <summary>
/// A reply has begun: <see cref="AppendedTokens"/> (the formatted user message) were committed, so the conversation
/// now has <see cref="CommittedLength"/> tokens and the next tree is for step <see cref="Step"/>.
/// <see cref="CachedTokens"/> of them the verifier did not compute for this turn: it held them (earlier turns) or copied
/// them from its device's prefix cache.
/// <see cref="FirstTokens"/>: the reply's first tokens, which the server decoded itself at turn start in one step
/// (SpecEdge:ServerFirstToken) and committed after the appended ones, so the edge's first tree is for
/// <see cref="DraftStep"/> and <see cref="DraftCommittedLength"/>; null or empty when the edge drafts the reply's first
/// step. <see cref="Finished"/>: they ended the reply. <see cref="CommittedLength"/> stays where the reply starts.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.TurnStarted")]
public sealed record TurnStarted(
    [property: Id(0)] string SessionId,
    [property: Id(1)] int[] AppendedTokens,
    [property: Id(2)] int CommittedLength,
    [property: Id(3)] long Step,
    [property: Id(4)] int CachedTokens = 0,
    [property: Id(5)] int[]? FirstTokens = null,
    [property: Id(6)] bool Finished = false)
{
    /// <summary>The tokens the turn committed: the appended ones, then the reply's first tokens if the server decoded them.</summary>
    public int[] CommittedTokens => FirstTokens is { Length: > 0 } first ? [.. AppendedTokens, .. first] : AppendedTokens;

    /// <summary>The step of the edge's first tree: one after <see cref="Step"/> when the server decoded the first.</summary>
    public long DraftStep => FirstTokens is { Length: > 0 } ? Step + 1 : Step;

    /// <summary>The conversation's length when the edge drafts its first tree: the prompt, and the server's first tokens.</summary>
    public int DraftCommittedLength => CommittedLength + (FirstTokens?.Length ?? 0);
}
