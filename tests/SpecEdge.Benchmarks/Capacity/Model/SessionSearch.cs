namespace SpecEdge.Benchmarks.Capacity;

/// <summary>The most sessions one server serves with mean ITL at or under a target: doubling, then bisection (ITL grows with load).</summary>
public static class SessionSearch
{
    public static int MaxSessions(Func<int, SimulationResult> simulate, double itlTargetMs, int limit)
    {
        if (limit < 1 || simulate(1).ItlMeanMs > itlTargetMs) return 0;
        int good = 1, bad = -1;
        while (bad < 0)
        {
            int next = Math.Min(limit, good * 2);
            if (next == good) return good;
            if (simulate(next).ItlMeanMs <= itlTargetMs) good = next; else bad = next;
        }
        while (bad - good > 1)
        {
            int mid = (good + bad) / 2;
            if (simulate(mid).ItlMeanMs <= itlTargetMs) good = mid; else bad = mid;
        }
        return good;
    }
}
