using Orleans.Concurrency;

namespace SpecEdge.Contracts;

/// <summary>
/// Implemented by an edge host (a grain observer) to hear back from a session. One-way calls: the session never waits
/// for the edge, so a slow or vanished edge cannot stall a conversation.
/// </summary>
[Alias("specedge.IEdgeObserver")]
public interface IEdgeObserver : IGrainObserver
{
    [OneWay, Alias("OnVerdict")] Task OnVerdict(StepVerdict verdict);
    [OneWay, Alias("OnRejected")] Task OnRejected(TreeRejection rejection);
    /// <summary>The verifier's early exit spoke for the tree in flight: the edge may draft the next tree from it (see <see cref="EarlyStepVerdict"/>).</summary>
    [OneWay, Alias("OnEarlyVerdict")] Task OnEarlyVerdict(EarlyStepVerdict verdict);
    /// <summary>A reply started (e.g. a backend sent a message while this edge was attached): start drafting.</summary>
    [OneWay, Alias("OnTurnStarted")] Task OnTurnStarted(TurnStarted turn);
}
