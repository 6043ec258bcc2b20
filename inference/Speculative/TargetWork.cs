namespace SpecEdge.Inference.Speculative;

/// <summary>
/// One sequence's share of a batched target forward. Any mix of kinds runs in ONE forward pass, which is what lets a
/// verifier keep the device busy with whatever work is waiting.
/// </summary>
public abstract record TargetWork(TargetSequence Sequence);

/// <summary>Verify a draft tree (validated beforehand) and commit the accepted path plus bonus token.</summary>
public sealed record VerifyWork(TargetSequence Sequence, DraftMessage Tree) : TargetWork(Sequence);

/// <summary>One step of plain decoding: commit one sampled token.</summary>
public sealed record DecodeWork(TargetSequence Sequence) : TargetWork(Sequence);

/// <summary>Bring the cache up to all committed tokens but the last (new turn, restart, eviction). Commits nothing.</summary>
public sealed record PrefillWork(TargetSequence Sequence) : TargetWork(Sequence);
