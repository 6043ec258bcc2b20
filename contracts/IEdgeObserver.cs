using Orleans.Concurrency;

namespace SpecEdge.Contracts;

/// <summary>
/// Implemented by an edge host (a grain observer) to hear back from a session. One-way calls: the session never waits
/// for the edge, so a slow or vanished edge cannot stall a conversation.
/// </summary>
public interface IEdgeObserver : IGrainObserver
{
    [OneWay] Task OnVerdict(StepVerdict verdict);
    [OneWay] Task OnRejected(TreeRejection rejection);
    /// <summary>A reply started (e.g. a backend sent a message while this edge was attached): start drafting.</summary>
    [OneWay] Task OnTurnStarted(TurnStarted turn);
}
