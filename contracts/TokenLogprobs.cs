namespace SpecEdge.Contracts;

/// <summary>
/// A reply token as readers see it with its log probability: its text (UTF-8 decoded, so half a character shows as
/// U+FFFD), its exact bytes, and for a committed token the most likely alternatives (<see cref="Top"/>; null on an
/// alternative itself).
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.ReplyLogprob")]
public sealed record ReplyLogprob(
    [property: Id(0)] string Token,
    [property: Id(1)] byte[] Bytes,
    [property: Id(2)] float Logprob,
    [property: Id(3)] ReplyLogprob[]? Top = null);
