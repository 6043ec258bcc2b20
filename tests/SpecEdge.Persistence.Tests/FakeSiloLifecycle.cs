using Orleans;
using Orleans.Runtime;

namespace SpecEdge.Persistence.Tests;

/// <summary>Records lifecycle subscriptions so a test can run a participant's start callback without a silo.</summary>
internal sealed class FakeSiloLifecycle : ISiloLifecycle
{
    public List<(string Name, int Stage, ILifecycleObserver Observer)> Subscriptions { get; } = [];

    public int HighestCompletedStage => int.MinValue;

    public int LowestStoppedStage => int.MaxValue;

    public IDisposable Subscribe(string observerName, int stage, ILifecycleObserver observer)
    {
        Subscriptions.Add((observerName, stage, observer));
        return new NoopDisposable();
    }

    private sealed class NoopDisposable : IDisposable
    {
        public void Dispose() { }
    }
}
