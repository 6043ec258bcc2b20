using SpecEdge.Contracts;

namespace SpecEdge.Cluster.Tests;

/// <summary>An edge observer that ignores everything: for tests that attach only to read or to provoke errors.</summary>
internal sealed class NullEdgeObserver : IEdgeObserver
{
    public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;
    public Task OnRejected(TreeRejection rejection) => Task.CompletedTask;
    public Task OnEarlyVerdict(EarlyStepVerdict verdict) => Task.CompletedTask;
    public Task OnTurnStarted(TurnStarted turn) => Task.CompletedTask;
}
