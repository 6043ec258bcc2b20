namespace SpecEdge.Grains.Verification;

/// <summary>
/// The last <paramref name="capacity"/> values added and a count of all of them: statistics that stay bounded however
/// long a silo runs (an unbounded list of per-forward figures grows by megabytes a day under load).
/// </summary>
public sealed class RecentWindow<T>(int capacity)
{
    private readonly Queue<T> _items = new();

    /// <summary>Values ever added, including those that fell out of the window.</summary>
    public long Total { get; private set; }

    public void Add(T value)
    {
        _items.Enqueue(value);
        if (_items.Count > capacity) _items.Dequeue();
        Total++;
    }

    public T[] ToArray() => _items.ToArray();
}
