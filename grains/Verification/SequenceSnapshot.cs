using SpecEdge.Contracts;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// Everything a verifier needs to (re)build a session's sequence: committed tokens, where the current reply began,
/// the settings (with the resolved seed) and the step number. Sent when a verifier meets a session for the first time, or
/// after it lost the session's KV cache (restart, eviction).
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.SequenceSnapshot")]
public sealed record SequenceSnapshot(
    [property: Id(0)] int[] Committed,
    [property: Id(1)] int ReplyStart,
    [property: Id(2)] GenerationSettings Settings,
    [property: Id(3)] long Step,
    [property: Id(5)] bool Generating);
