namespace SpecEdge.Contracts;

/// <summary>
/// A draft tree from an edge host for step <see cref="Step"/> of a session that has <see cref="CommittedLength"/>
/// committed tokens. Node 0 is the root (the last committed token, parent -1); every other node's parent is an earlier
/// node. About a hundred bytes: no logits, masks or positions cross the network; the server derives those.
/// <see cref="Confidence"/> (optional, one byte per node, log scale: see <c>PathConfidence</c>) is the draft's probability
/// that each node's path is accepted, nodes best first, by which a loaded verifier decides how much of the tree pays.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.TreeSubmission")]
public sealed record TreeSubmission(
    [property: Id(0)] string SessionId,
    [property: Id(1)] string EdgeId,
    [property: Id(2)] long Step,
    [property: Id(3)] int CommittedLength,
    [property: Id(4)] int[] Tokens,
    [property: Id(5)] int[] Parents,
    [property: Id(6)] byte[]? Confidence = null);
