namespace SpecEdge.Inference.Speculative;

/// <summary>
/// How many steps the server decodes on its own after an edge's step, when the verifier found that plain decoding on the
/// server would serve the session better than the edge's loop: a hand-back. That is a tree cut to its root (no draft node
/// worth its price, so the step was plain decoding that still paid the edge's round trip and drafting), or one whose
/// tokens, less their device time at the device's price, are worth less per millisecond of the step, the edge's
/// turnaround included, than plain steps on the server (<see cref="GoodputCut.ServerDecodingPays"/>). Either way the
/// edge loop only adds latency, and the session's absence from the forwards while its edge drafts lowers what one
/// device serves. So the session decodes plain steps on
/// the server and hands the tokens to the edge with the verdict; the edge then offers a tree again, which the verifier
/// prices afresh at its load of that moment.
/// <para>
/// The first such step runs one server step; every one after it in a row runs <see cref="MaxSteps"/> (a run's time is
/// bounded apart, by SpecEdge:HandBackMaxMilliseconds). One step where the edge's loop pays (load fell, or the draft got
/// better) starts the count again, so a session returns to speculation within one step of it paying, and under steady
/// overload spends one step in <see cref="MaxSteps"/> + 1 on the edge's loop. A new reply starts the count again too
/// (<see cref="Reset"/>): its first tokens reach the edge after one server step, not after a whole run. Runs that doubled
/// instead (1, 3, 7, 15, ...) paid an edge step for every few tokens at the start of each reply: at 256 sessions on the
/// simulator's H200, about 17 edge steps per 256-token reply, each taking the session out of about three forwards
/// (docs/benchmarks/goodput.md). The simulator's projection uses this class too.
/// </para>
/// </summary>
public sealed class HandBackPolicy
{
    /// <summary>Longest run of server steps after one edge step; 0 turns hand-backs off.</summary>
    public int MaxSteps { get; }

    private int _inARow;

    public HandBackPolicy(int maxSteps)
    {
        if (maxSteps < 0) throw new ArgumentOutOfRangeException(nameof(maxSteps), maxSteps, "The longest hand-back must be 0 (off) or more steps.");
        MaxSteps = maxSteps;
    }

    /// <summary>A new reply begins: its first hand-back is one step again.</summary>
    public void Reset() => _inARow = 0;

    /// <summary>
    /// How many steps the server decodes on its own before the edge's next tree, after a step whose verifier found plain
    /// decoding on the server faster than the edge's loop (<paramref name="serverPays"/>: see
    /// <see cref="GoodputCut.ServerDecodingPays"/>; always so for a tree it cut to its root) or not.
    /// </summary>
    public int StepsAfter(bool serverPays)
    {
        if (MaxSteps == 0 || !serverPays)
        {
            _inARow = 0;
            return 0;
        }
        _inARow = Math.Min(_inARow + 1, 2);
        return _inARow == 1 ? 1 : MaxSteps;
    }
}
