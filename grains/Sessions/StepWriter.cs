namespace SpecEdge.Grains.Sessions;

/// <summary>
/// A session's state writes: at most one in flight, steps committed while it runs go out together in the next write
/// (group commit), and every write's steps are reported durable, in order, or failed, together. Orleans' Chirper sample
/// keeps one outstanding write that later callers join for the same reason: concurrent writes of one grain's state
/// conflict on the ETag. Plain code over delegates, so the rules are unit-tested without a cluster. A caller may assume:
/// <list type="bullet">
/// <item><see cref="Commit"/> never waits for storage: it queues the step and starts the write chain if none runs.</item>
/// <item>A step is reported to <c>durable</c> only after a write that began after it was committed has completed;
/// <c>capture</c> runs just before each write starts, so what it captures is what that write stores.</item>
/// <item>If a write fails, its steps and every step committed after them are reported to <c>failed</c> in one call
/// (the oldest first), nothing queued survives, and the chain ends with the exception <c>failed</c> returns.</item>
/// <item><see cref="SettleAsync"/> returns when nothing is in flight or queued, and never throws.</item>
/// </list>
/// Not thread-safe: a grain's turn-based scheduling is what serialises its callers.
/// </summary>
/// <typeparam name="TStep">What a committed step carries (its verdict, text and rollback point).</typeparam>
/// <typeparam name="TView">What a write stores that readers may see once it is durable.</typeparam>
public sealed class StepWriter<TStep, TView>(
    Func<TView> capture,
    Func<Task> write,
    Action<TView, IReadOnlyList<TStep>> durable,
    Func<IReadOnlyList<TStep>, Exception, Exception> failed)
{
    private readonly List<TStep> _unwritten = new();
    private Task _chain = Task.CompletedTask;

    /// <summary>Steps committed in memory that no write has started to store yet.</summary>
    public int Unwritten => _unwritten.Count;

    /// <summary>The write chain in flight (completed when idle): awaiting it waits for every queued step.</summary>
    public Task Current => _chain;

    /// <summary>Queues <paramref name="step"/> for the next write, starting the chain if it is idle; returns the chain.</summary>
    public Task Commit(TStep step)
    {
        _unwritten.Add(step);
        if (_chain.IsCompleted) _chain = WriteStepsAsync();
        return _chain;
    }

    /// <summary>Waits until no write is in flight and no step is queued; a failure was already reported to <c>failed</c>.</summary>
    public async Task SettleAsync()
    {
        try { await _chain; }
        catch (Exception) { }
    }

    /// <summary>Writes the state as it is now (after the chain in flight) and waits for that write; its failure is thrown.</summary>
    public async Task WriteNowAsync()
    {
        await SettleAsync();
        var view = capture();
        var now = write();
        _chain = now;
        await now;
        durable(view, Array.Empty<TStep>());
    }

    private async Task WriteStepsAsync()
    {
        while (_unwritten.Count > 0)
        {
            var steps = _unwritten.ToArray();
            _unwritten.Clear();
            var view = capture();
            try
            {
                await write();
            }
            catch (Exception e)
            {
                // Steps committed during the failed write stand on it: they fail with it.
                var lost = steps.Concat(_unwritten).ToArray();
                _unwritten.Clear();
                throw failed(lost, e);
            }
            durable(view, steps);
        }
    }
}
