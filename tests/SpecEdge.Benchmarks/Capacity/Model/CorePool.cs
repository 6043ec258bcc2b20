namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// A fixed number of cores that jobs (a draft, a verify forward) hold one at a time, granted first come first served;
/// with no limit every request is granted at once (each edge on its own device). Runs inside the simulator's event loop:
/// a grant is a callback at the time the core becomes free, so the verifier forms its batch only when it can run it.
/// </summary>
public sealed class CorePool(int? cores)
{
    private readonly Queue<Action<double>> _waiting = new();
    private int _busy;

    public void Acquire(double now, Action<double> granted)
    {
        if (cores is null || _busy < cores) { _busy++; granted(now); }
        else _waiting.Enqueue(granted);
    }

    public void Release(double now)
    {
        if (_waiting.Count > 0) _waiting.Dequeue()(now);   // the core passes straight to the next in line
        else _busy--;
    }
}
