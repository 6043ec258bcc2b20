using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Verification;

/// <summary>
/// Hands a tree's early verdict, produced on the device thread mid-forward, to the edge that sent the tree. The one-way
/// call is made on the calling grain's scheduler (a reentrant verifier runs it while the forward goes on), so it leaves
/// as that grain's call, with its identity and call filters, and the device thread only queues it.
/// </summary>
public static class EarlyVerdictSender
{
    /// <summary>
    /// A sender bound to the current grain; call it from the grain's own thread. For a tree the session moved past the
    /// server's tokens (<paramref name="committedSince"/>), the early verdict is told for the step the edge sent it for
    /// (<paramref name="sentForStep"/>), those tokens first, as its verdict will be.
    /// </summary>
    public static Action<EarlyVerdict> OnThisGrain(string sessionId, IEdgeObserver edge, ILogger logger, long sentForStep = -1, int[]? committedSince = null)
    {
        var grainScheduler = TaskScheduler.Current;
        bool moved = committedSince is { Length: > 0 } && sentForStep >= 0;
        return verdict => Task.Factory.StartNew(() =>
        {
            SpecEdgeMetrics.EarlyVerdictsSent.Add(1);
            return edge.OnEarlyVerdict(moved
                ? new EarlyStepVerdict(sessionId, sentForStep, [.. committedSince!, .. verdict.AcceptedTokens])
                : new EarlyStepVerdict(sessionId, verdict.Step, verdict.AcceptedTokens));
        }, CancellationToken.None, TaskCreationOptions.None, grainScheduler).Unwrap().ContinueWith(
            t => logger.LogDebug(t.Exception, "An early verdict for session {Session} was lost; its verdict decides alone", sessionId),
            TaskContinuationOptions.OnlyOnFaulted);
    }
}
