namespace SpecEdge.Contracts;

/// <summary>
/// What an edge host needs to start drafting for a session: every committed token, the current step, and whether a
/// reply is in progress (then the edge should draft at once). <see cref="Temperature"/> tells the edge whether
/// verification is greedy, which changes what proactive drafting should bet on. <see cref="MaxTreeNodes"/> and
/// <see cref="MaxContextTokens"/> are the verifier's limits, so the edge can shape its trees to fit instead of having
/// them refused: at most MaxTreeNodes nodes besides the root, and no more than the context has room for
/// (MaxContextTokens minus the committed tokens). 0 means the silo did not say (an older silo).
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.EdgeAttachment")]
public sealed record EdgeAttachment(
    [property: Id(0)] string SessionId,
    [property: Id(1)] int[] Committed,
    [property: Id(2)] long Step,
    [property: Id(3)] bool Generating,
    [property: Id(4)] int VocabSize,
    [property: Id(5)] double Temperature = 0,
    [property: Id(6)] int MaxTreeNodes = 0,
    [property: Id(7)] int MaxContextTokens = 0);
