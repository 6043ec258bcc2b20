using System.Collections.Concurrent;
using Orleans.Storage;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Session storage whose writes a test can hold back or fail, per conversation: it wraps the real memory storage and
/// is controlled through <see cref="For"/> (the test cluster runs in this process). Lets tests see what readers and
/// edges observe while a step's write is in flight, and after one fails.
/// </summary>
public sealed class ControlledGrainStorage(IGrainStorage durable) : IGrainStorage
{
    /// <summary>What to do to the writes of one conversation.</summary>
    public sealed class Control
    {
        private TaskCompletionSource _open = Opened();
        private int _failures, _passBeforeFailing;
        /// <summary>Writes that reached the storage (held ones included).</summary>
        public int Attempts;
        /// <summary>Writes that were refused by <see cref="FailNext"/>.</summary>
        public int Failed;

        /// <summary>Holds every write from now on until <see cref="Release"/>.</summary>
        public void Hold() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        public void Release() => _open.TrySetResult();
        /// <summary>After <paramref name="after"/> more successful writes, the next <paramref name="count"/> throw, as a storage outage would.</summary>
        public void FailNext(int count, int after = 0)
        {
            lock (this) { _failures = count; _passBeforeFailing = after; }
        }

        internal async Task BeforeWriteAsync()
        {
            Interlocked.Increment(ref Attempts);
            await _open.Task;
            lock (this)
            {
                if (_failures == 0) return;
                if (_passBeforeFailing > 0) { _passBeforeFailing--; return; }
                _failures--;
                Failed++;
            }
            throw new IOException("injected storage failure (test)");
        }

        private Action<object>? _otherWriter;

        /// <summary>
        /// The next write loses a storage race: <paramref name="otherWriter"/> changes the stored state first, as another
        /// activation of the same conversation would, and the write throws <see cref="InconsistentStateException"/>.
        /// </summary>
        public void ConflictNext(Action<object> otherWriter)
        {
            lock (this) _otherWriter = otherWriter;
        }

        internal Action<object>? TakeConflict()
        {
            lock (this)
            {
                var writer = _otherWriter;
                _otherWriter = null;
                return writer;
            }
        }

        private static TaskCompletionSource Opened()
        {
            var open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            open.SetResult();
            return open;
        }
    }

    private static readonly ConcurrentDictionary<string, Control> Controls = new();

    /// <summary>The control of conversation <paramref name="sessionId"/>'s writes.</summary>
    public static Control For(string sessionId) => Controls.GetOrAdd(sessionId, _ => new Control());

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => durable.ReadStateAsync(stateName, grainId, grainState);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        if (Controls.TryGetValue(grainId.Key.ToString()!, out var control))
        {
            await control.BeforeWriteAsync();
            if (control.TakeConflict() is { } otherWriter)
            {
                var stored = new GrainState<T>();
                await durable.ReadStateAsync(stateName, grainId, stored);
                otherWriter(stored.State!);
                await durable.WriteStateAsync(stateName, grainId, stored);
                throw new InconsistentStateException("injected ETag conflict (test): another activation wrote first");
            }
        }
        await durable.WriteStateAsync(stateName, grainId, grainState);
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => durable.ClearStateAsync(stateName, grainId, grainState);
}
