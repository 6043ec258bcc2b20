using SpecEdge.Grains.Sessions;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The session's write rules on their own, with a hand-driven storage and no cluster: one write in flight, group commit,
/// durable-in-order, and a failure that takes every step standing on it.
/// </summary>
[Trait("Kind", "unit")]
public class StepWriterTests
{
    /// <summary>Storage whose writes the test completes or fails one by one; it records what each write stored.</summary>
    private sealed class HandStorage
    {
        public readonly List<TaskCompletionSource> Writes = new();
        public int InFlight, MaxInFlight;
        public readonly List<string> Log = new();

        public async Task WriteAsync()
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Writes.Add(done);
            MaxInFlight = Math.Max(MaxInFlight, ++InFlight);
            try { await done.Task; }
            finally { InFlight--; }
        }
    }

    private static (StepWriter<int, string> Writer, HandStorage Storage, List<string> Durable, List<int[]> Failed) Build(Func<List<int>> live, Func<Exception, Exception>? onFail = null)
    {
        var storage = new HandStorage();
        var durable = new List<string>();
        var failed = new List<int[]>();
        var writer = new StepWriter<int, string>(
            () => string.Join(",", live()),
            storage.WriteAsync,
            (view, steps) => durable.Add($"{view}|{string.Join(",", steps)}"),
            (steps, e) => { failed.Add(steps.ToArray()); return onFail?.Invoke(e) ?? new InvalidOperationException("not durable", e); });
        return (writer, storage, durable, failed);
    }

    [Fact]
    public async Task StepsCommittedDuringAWrite_GoOutTogetherInTheNextOne_AndNeverTwoWritesAtOnce()
    {
        var live = new List<int>();
        var (writer, storage, durable, _) = Build(() => live);
        live.Add(1);
        var chain = writer.Commit(1);
        Assert.Single(storage.Writes);
        foreach (var step in new[] { 2, 3, 4 }) { live.Add(step); writer.Commit(step); }
        Assert.Single(storage.Writes);          // held: nothing else starts
        Assert.Equal(3, writer.Unwritten);

        storage.Writes[0].SetResult();
        await WaitUntil(() => storage.Writes.Count == 2);
        Assert.Equal(0, writer.Unwritten);      // the second write took all three
        storage.Writes[1].SetResult();
        await chain;

        Assert.Equal(new[] { "1|1", "1,2,3,4|2,3,4" }, durable);
        Assert.Equal(1, storage.MaxInFlight);
    }

    [Fact]
    public async Task AFailedWrite_FailsItsStepsAndEveryStepOnTopOfThem_AndTheNextCommitStartsAfresh()
    {
        var live = new List<int>();
        var (writer, storage, durable, failed) = Build(() => live);
        var chain = writer.Commit(1);
        writer.Commit(2);
        storage.Writes[0].SetException(new IOException("storage down"));
        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(() => chain);
        Assert.IsType<IOException>(thrown.InnerException);
        Assert.Equal(new[] { 1, 2 }, Assert.Single(failed));
        Assert.Empty(durable);
        Assert.Equal(0, writer.Unwritten);
        await writer.SettleAsync();             // never throws

        var next = writer.Commit(3);
        Assert.Equal(2, storage.Writes.Count);
        storage.Writes[1].SetResult();
        await next;
        Assert.Equal("|3", Assert.Single(durable));
    }

    [Fact]
    public async Task WriteNow_WaitsForTheChainInFlight_ThenWritesOnce_AndItsFailureIsThrown()
    {
        var live = new List<int> { 7 };
        var (writer, storage, durable, _) = Build(() => live);
        writer.Commit(1);
        var now = writer.WriteNowAsync();
        Assert.Single(storage.Writes);          // waits behind the step write
        storage.Writes[0].SetResult();
        await WaitUntil(() => storage.Writes.Count == 2);
        storage.Writes[1].SetException(new IOException("refused"));
        await Assert.ThrowsAsync<IOException>(() => now);
        Assert.Equal(new[] { "7|1" }, durable);
        Assert.Equal(1, storage.MaxInFlight);
    }

    [Fact]
    public async Task TheFailureCallback_ChoosesWhatTheChainThrows()
    {
        var conflict = new Orleans.Storage.InconsistentStateException("etag");
        var (writer, storage, _, failed) = Build(() => new List<int>(), e => e);
        var chain = writer.Commit(5);
        storage.Writes[0].SetException(conflict);
        Assert.Same(conflict, await Assert.ThrowsAsync<Orleans.Storage.InconsistentStateException>(() => chain));
        Assert.Equal(new[] { 5 }, Assert.Single(failed));
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 200 && !condition(); i++) await Task.Delay(10);
        Assert.True(condition());
    }
}
