namespace SpecEdge.Contracts;

/// <summary>
/// A draft tree from an edge host for step <see cref="Step"/> of a session that has <see cref="CommittedLength"/>
/// committed tokens. Node 0 is the root (the last committed token, parent -1); every other node's parent is an earlier
/// node. About a hundred bytes: no logits, masks or positions cross the network; the server derives those.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.TreeSubmission")]
public sealed record TreeSubmission(
    [property: Id(0)] string SessionId,
    [property: Id(1)] string EdgeId,
    [property: Id(2)] long Step,
    [property: Id(3)] int CommittedLength,
    [property: Id(4)] int[] Tokens,
    [property: Id(5)] int[] Parents);
