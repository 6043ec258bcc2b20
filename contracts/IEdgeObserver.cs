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
    /// <summary>A reply started (e.g. a backend sent a message while this edge was attached): start drafting.</summary>
    [OneWay, Alias("OnTurnStarted")] Task OnTurnStarted(TurnStarted turn);
}
