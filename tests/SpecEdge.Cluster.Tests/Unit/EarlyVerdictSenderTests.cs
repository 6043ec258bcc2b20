using Microsoft.Extensions.Logging.Abstractions;
using SpecEdge.Contracts;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// An early verdict goes to the edge as the edge sent its tree: for a tree the session moved past the server's tokens
/// while the edge drafted, for the step the edge sent it for and with those tokens first, as its verdict will carry them.
/// Told for the moved tree's own step, the edge dropped it as not the step it awaited, and lost its head start.
/// </summary>
[Trait("Kind", "unit")]
public class EarlyVerdictSenderTests
{
    [Fact]
    public async Task ATreeAsSent_IsToldAsTheVerifierSawIt()
    {
        var edge = new Recorder();
        EarlyVerdictSender.OnThisGrain("t/s", edge, NullLogger.Instance)(new EarlyVerdict(12, new[] { 5, 6 }));
        var told = await edge.Told.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(12, told.Step);
        Assert.Equal(new[] { 5, 6 }, told.AcceptedTokens);
    }

    [Fact]
    public async Task AMovedTree_IsToldForTheStepItWasSentFor_WithTheServersTokensFirst()
    {
        var edge = new Recorder();
        EarlyVerdictSender.OnThisGrain("t/s", edge, NullLogger.Instance, sentForStep: 9, committedSince: new[] { 1, 2, 3 })(new EarlyVerdict(12, new[] { 5, 6 }));
        var told = await edge.Told.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("t/s", told.SessionId);
        Assert.Equal(9, told.Step);
        Assert.Equal(new[] { 1, 2, 3, 5, 6 }, told.AcceptedTokens);
    }

    private sealed class Recorder : IEdgeObserver
    {
        public TaskCompletionSource<EarlyStepVerdict> Told { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;
        public Task OnRejected(TreeRejection rejection) => Task.CompletedTask;
        public Task OnTurnStarted(TurnStarted turn) => Task.CompletedTask;
        public Task OnEarlyVerdict(EarlyStepVerdict verdict)
        {
            Told.TrySetResult(verdict);
            return Task.CompletedTask;
        }
    }
}
