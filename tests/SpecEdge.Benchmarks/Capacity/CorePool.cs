namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// A fixed number of cores that jobs (a draft, a verify forward) hold one at a time, first come first served; with no
/// limit every job starts at once (each edge on its own device). Runs inside the simulator's event loop.
/// </summary>
public sealed class CorePool(int? cores, Action<double, Action<double>> schedule)
{
    private readonly Queue<(double Seconds, Action<double> Done)> _waiting = new();
    private int _busy;

    /// <summary>Runs a job of <paramref name="seconds"/> as soon as a core is free; <paramref name="done"/> gets the finish time.</summary>
    public void Run(double now, double seconds, Action<double> done)
    {
        if (cores is null || _busy < cores) Start(now, seconds, done);
        else _waiting.Enqueue((seconds, done));
    }

    private void Start(double now, double seconds, Action<double> done)
    {
        _busy++;
        schedule(now + seconds, end =>
        {
            _busy--;
            if (_waiting.Count > 0)
            {
                var (s, d) = _waiting.Dequeue();
                Start(end, s, d);
            }
            done(end);
        });
    }
}
