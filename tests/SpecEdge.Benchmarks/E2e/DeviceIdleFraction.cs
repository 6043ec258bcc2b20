namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// The verifier's idle fraction as issue 13 defines it: of the time during which some session has a step outstanding
/// (tree sent, verdict not yet received), the share during which no forward runs on the device. Intervals are Unix
/// microseconds on this machine's clock (edges and silo share it here), measured on a 50 µs grid.
/// </summary>
public static class DeviceIdleFraction
{
    private const long GridMicroseconds = 50;

    public static (double Fraction, double OutstandingSeconds) Of(IReadOnlyList<(long Start, long End)> outstanding, IReadOnlyList<(long Start, long End)> forwards)
    {
        if (outstanding.Count == 0) return (double.NaN, 0);
        long origin = outstanding.Min(i => i.Start), end = outstanding.Max(i => i.End);
        int cells = (int)Math.Min(int.MaxValue - 1, (end - origin) / GridMicroseconds + 1);
        var waiting = new bool[cells];
        var busy = new bool[cells];
        Mark(waiting, outstanding, origin);
        Mark(busy, forwards, origin);
        long wait = 0, idle = 0;
        for (int i = 0; i < cells; i++)
        {
            if (!waiting[i]) continue;
            wait++;
            if (!busy[i]) idle++;
        }
        return (wait == 0 ? double.NaN : (double)idle / wait, wait * GridMicroseconds / 1e6);
    }

    private static void Mark(bool[] grid, IEnumerable<(long Start, long End)> intervals, long origin)
    {
        foreach (var (start, end) in intervals)
        {
            long from = Math.Max(0, (start - origin) / GridMicroseconds), to = Math.Min(grid.Length, (end - origin) / GridMicroseconds);
            for (long i = from; i < to; i++) grid[i] = true;
        }
    }
}
