using Orleans.Storage;
using SpecEdge.Grains.Sessions;
using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The server loop's retry rules, on a hand-moved clock and no cluster.</summary>
[Trait("Kind", "unit")]
public class ServerStepPolicyTests
{
    private sealed class HandClock : TimeProvider
    {
        public DateTimeOffset Now = DateTimeOffset.UnixEpoch;
        public override DateTimeOffset GetUtcNow() => Now;
    }

    [Fact]
    public void TransientFaults_AreRetriedWithAGrowingPause_UpToTheLimit_ThenEndTheReply()
    {
        var policy = new ServerStepPolicy(new HandClock());
        for (int i = 1; i <= ServerStepPolicy.MaxTransientFailures; i++)
        {
            var d = policy.AfterFailure(new TimeoutException(), shuttingDown: false);
            Assert.Equal(ServerStepAction.Retry, d.Action);
            Assert.Equal(TimeSpan.FromMilliseconds(250 * i), d.After);
        }
        Assert.Equal(ServerStepAction.FailReply, policy.AfterFailure(new TimeoutException(), false).Action);

        policy.StepSucceeded();   // a committed step starts the count afresh
        Assert.Equal(ServerStepAction.Retry, policy.AfterFailure(new TimeoutException(), false).Action);
    }

    [Fact]
    public void AStepWhoseWriteFailed_IsRedone_UntilThreeWritesFailedInARow()
    {
        var policy = new ServerStepPolicy(new HandClock());
        for (int i = 1; i < ServerStepPolicy.MaxFailedWrites; i++)
        {
            policy.WriteFailed();
            var d = policy.AfterFailure(new StepNotDurableException("rolled back"), false);
            Assert.Equal(ServerStepAction.Retry, d.Action);
            Assert.Equal(TimeSpan.FromMilliseconds(200 * i), d.After);
        }
        policy.WriteFailed();
        Assert.True(policy.TooManyFailedWrites);
        Assert.Equal(ServerStepAction.FailReply, policy.AfterFailure(new StepNotDurableException("again"), false).Action);
        policy.WriteSucceeded();
        Assert.False(policy.TooManyFailedWrites);
    }

    [Fact]
    public void ACapacityRefusal_WaitsUpToTwoMinutes_ThenCountsAsATransientFault()
    {
        var clock = new HandClock();
        var policy = new ServerStepPolicy(clock);
        var busy = new VerifierBusyException("the server is at capacity");
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.AfterFailure(busy, false).After);
        clock.Now += ServerStepPolicy.MaxCapacityWait - TimeSpan.FromSeconds(1);
        Assert.Equal(TimeSpan.FromMilliseconds(500), policy.AfterFailure(busy, false).After);
        clock.Now += TimeSpan.FromSeconds(2);
        var after = policy.AfterFailure(busy, false);
        Assert.Equal(ServerStepAction.Retry, after.Action);
        Assert.Equal(TimeSpan.FromMilliseconds(250), after.After);   // now a transient retry, counted toward the limit
    }

    [Fact]
    public void AConflictOrAShutdown_StopsWithoutEndingTheReply_AndAnyOtherErrorEndsIt()
    {
        var policy = new ServerStepPolicy(new HandClock());
        Assert.Equal(ServerStepAction.Stop, policy.AfterFailure(new InconsistentStateException("etag"), false).Action);
        Assert.Equal(ServerStepAction.Stop, policy.AfterFailure(new InvalidOperationException("any"), shuttingDown: true).Action);
        Assert.Equal(ServerStepAction.FailReply, policy.AfterFailure(new ArgumentException("bad settings"), false).Action);
    }
}
