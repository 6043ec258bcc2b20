using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;
using SpecEdge.Grains.Verification;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// A session's view of its verifier: whether the verifier holds this conversation as the session knows it, and the
/// calls that keep it so. The verifier may lose a conversation at any time (eviction, restart, a step the session
/// rolled back); then the next call reopens it from <c>snapshot</c> (the session's committed state) and retries once.
/// A caller may assume the verifier never decides from anything but the session's own tokens.
/// </summary>
public sealed class VerifierLink(IVerifierBatchGrain verifier, string sessionId, Func<SequenceSnapshot> snapshot, ILogger logger)
{
    private bool _loaded;

    /// <summary>The conversation went somewhere the verifier did not follow (a refused write, a rollback): reopen it on next use.</summary>
    public void Invalidate() => _loaded = false;

    /// <summary>
    /// Tells the verifier a turn begins: the whole conversation when it does not hold it (or it is new), else only the
    /// appended tokens. Call before the turn is stored, and <see cref="Invalidate"/> if storing it fails. Returns the
    /// conversation's tokens the verifier did not compute (it held them, or its prefix cache did).
    /// </summary>
    public async Task<int> StartTurnAsync(IReadOnlyList<int> committedBefore, int[] appended, GenerationSettings settings, long step)
    {
        var committed = committedBefore.Concat(appended).ToArray();
        var opening = new SequenceSnapshot(committed, committed.Length, settings, step, Generating: true);
        int reused;
        if (!_loaded || committedBefore.Count == 0) reused = await verifier.OpenAsync(sessionId, opening);
        else
        {
            try { reused = await verifier.StartTurnAsync(sessionId, appended, settings, committedBefore.Count); }
            catch (SessionNotLoadedException) { reused = await verifier.OpenAsync(sessionId, opening); }
        }
        _loaded = true;
        return reused;
    }

    /// <summary>Calls the verifier, opening the conversation first if needed; if the verifier lost it meanwhile, reopens it and retries once.</summary>
    public async Task<T> CallAsync<T>(Func<IVerifierBatchGrain, Task<T>> call)
    {
        if (!_loaded)
        {
            await verifier.OpenAsync(sessionId, snapshot());
            _loaded = true;
        }
        try { return await call(verifier); }
        catch (SessionNotLoadedException e)
        {
            logger.LogInformation("Session {Session}: {Reason}; rebuilding the verifier's KV cache", sessionId, e.Message);
            await verifier.OpenAsync(sessionId, snapshot());
            return await call(verifier);
        }
    }
}
