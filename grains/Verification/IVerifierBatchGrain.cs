using SpecEdge.Contracts;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// One per device, pinned to the silo that owns it (key <see cref="VerifierKey"/>). Holds the target KV caches of its
/// sessions and runs their work in batched forwards: whenever the device is free it takes everything waiting (up to
/// MaxBatch) and runs ONE forward. Calls for a session it does not hold throw <see cref="SessionNotLoadedException"/>.
/// </summary>
[Alias("specedge.IVerifierBatchGrain")]
public interface IVerifierBatchGrain : IGrainWithStringKey
{
    /// <summary>
    /// (Re)builds the session's sequence from <paramref name="snapshot"/> and prefills its KV cache, from the device's
    /// prefix cache as far as it reaches; returns the committed tokens it did not compute.
    /// </summary>
    [Alias("OpenAsync")]
    Task<int> OpenAsync(string sessionId, SequenceSnapshot snapshot);

    /// <summary>Appends a new turn's prompt tokens and prefills them; returns the committed tokens it did not compute.</summary>
    [Alias("StartTurnAsync")]
    Task<int> StartTurnAsync(string sessionId, int[] appended, GenerationSettings settings, int expectedCommitted);

    /// <summary>
    /// Validates and verifies a draft tree; commits and returns the accepted tokens plus bonus. With an exit head
    /// (<c>SpecEdge:EarlyVerdicts</c>), <paramref name="earlyListener"/> (the edge that sent the tree) is told half-way
    /// what the head would accept (one-way, never awaited). A tree the session moved past tokens the server committed
    /// while its edge drafted (<see cref="SpecEdge.Inference.Speculative.TreeRebase"/>) is told as the edge sent it:
    /// for <paramref name="sentForStep"/>, with <paramref name="committedSince"/> before the head's tokens.
    /// </summary>
    [Alias("VerifyAsync")]
    Task<StepVerdict> VerifyAsync(TreeSubmission tree, IEdgeObserver? earlyListener = null, long sentForStep = -1, int[]? committedSince = null);

    /// <summary>
    /// One plain decoding step (server-side decoding without a draft). <paramref name="whileEdgeDrafts"/>: a step the
    /// server decodes while the session's edge drafts its next tree after a hand-back; the edge is not waiting for it, so
    /// the edge's turnaround still counts from the verdict it got (<see cref="PipelineBatchPlanner.OnServerStep"/>).
    /// </summary>
    [Alias("DecodeAsync")]
    Task<StepVerdict> DecodeAsync(string sessionId, long step, bool whileEdgeDrafts = false);

    [Alias("CloseAsync")]
    Task CloseAsync(string sessionId);

    [Alias("GetStatsAsync")]
    Task<VerifierStats> GetStatsAsync();
}
