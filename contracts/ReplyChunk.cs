namespace SpecEdge.Contracts;

/// <summary>
/// A piece of a reply as it is generated: <see cref="Text"/> is new text since the previous chunk (never half a
/// character), <see cref="Tokens"/> the token ids committed with it. The last chunk has <see cref="Final"/> set and
/// says why the reply ended; <see cref="Error"/> is the reader's message when that is <see cref="ReplyFinish.Error"/>.
/// <see cref="Logprobs"/>: one per token of <see cref="Tokens"/> when the reply asked for them. They are kept in memory
/// only: chunks rebuilt from storage by a new activation (after a failover) carry none.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.ReplyChunk")]
public sealed record ReplyChunk(
    [property: Id(0)] int Index,
    [property: Id(1)] string Text,
    [property: Id(2)] int[] Tokens,
    [property: Id(3)] bool Final,
    [property: Id(4)] ReplyFinish? FinishReason,
    [property: Id(5)] string? Error = null,
    [property: Id(6)] ReplyLogprob[]? Logprobs = null);
