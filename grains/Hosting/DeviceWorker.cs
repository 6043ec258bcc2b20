using System.Collections.Concurrent;

namespace SpecEdge.Grains.Hosting;

/// <summary>
/// One dedicated thread per device that runs its model work (target forwards, server-side drafting) one item at a
/// time. Why not <c>Task.Run</c>: a forward blocks its thread for its whole duration, and on a small machine (2 cores,
/// so a thread pool of 2) that starved the pool that Orleans delivers messages on, so steps stopped arriving while a
/// forward ran and batches never formed. It also serialises every use of a device's models, which are not thread-safe.
/// </summary>
public sealed class DeviceWorker : IDisposable
{
    private readonly BlockingCollection<Action> _work = new();
    private readonly Thread _thread;

    public DeviceWorker(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "device " + name };
        _thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the device thread; the task completes (or faults) with it.</summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try { done.SetResult(work()); }
            catch (Exception e) { done.SetException(e); }
        });
        return done.Task;
    }

    private void Run()
    {
        foreach (var item in _work.GetConsumingEnumerable()) item();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(10));
    }
}
