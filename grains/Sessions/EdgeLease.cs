using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// The edge attached to a session in this activation: its observer, and when it was last heard from. An edge that sends
/// no tree for the lease while a reply is in progress loses the reply to the server. Notifications are one-way and not
/// awaited, so a slow or vanished edge never stalls the conversation (a lost one is logged; the lease covers a dead edge).
/// Not persisted: a new activation has no observer until the edge attaches again.
/// </summary>
public sealed class EdgeLease(TimeSpan lease, TimeProvider clock, string sessionId, ILogger logger)
{
    private IEdgeObserver? _observer;
    private DateTimeOffset _lastHeard;

    public bool HasObserver => _observer is not null;

    /// <summary>The attached edge (null when none): where the verifier sends its early verdicts for this edge's trees.</summary>
    public IEdgeObserver? Observer => _observer;

    public void Attach(IEdgeObserver observer)
    {
        _observer = observer;
        Touch();
    }

    public void Release() => _observer = null;

    /// <summary>The edge was heard from (a tree, an attach) or given new work (a turn): its lease starts again.</summary>
    public void Touch() => _lastHeard = clock.GetUtcNow();

    public bool Expired => clock.GetUtcNow() - _lastHeard >= lease;

    /// <summary>Sends <paramref name="notification"/> to the edge if one is attached here; never waits for it.</summary>
    public void Notify(Func<IEdgeObserver, Task> notification)
    {
        if (_observer is not { } observer) return;
        notification(observer).ContinueWith(
            t => logger.LogDebug(t.Exception, "Session {Session}: a notification to the edge failed", sessionId), TaskContinuationOptions.OnlyOnFaulted);
    }
}
