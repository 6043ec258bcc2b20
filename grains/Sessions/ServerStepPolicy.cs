using Orleans.Storage;
using SpecEdge.Grains.Verification;

namespace SpecEdge.Grains.Sessions;

/// <summary>What the server's step loop does after a step failed.</summary>
public enum ServerStepAction
{
    /// <summary>Run the step again after <see cref="ServerStepDecision.After"/>.</summary>
    Retry,
    /// <summary>Do nothing: a newer activation owns the conversation, or this one is going away (the next resumes).</summary>
    Stop,
    /// <summary>End the reply with the error, for every reader.</summary>
    FailReply,
}

/// <summary>A decision of <see cref="ServerStepPolicy"/>, with the reason the log shows.</summary>
public readonly record struct ServerStepDecision(ServerStepAction Action, TimeSpan After, string Why);

/// <summary>
/// When the server's decoding of a reply retries a failed step, waits, or gives the reply up: transient faults (a busy,
/// restarting or unreachable verifier, a timeout) are retried with a growing pause up to <see cref="MaxTransientFailures"/>
/// in a row; a step whose write failed is redone from the durable state up to <see cref="MaxFailedWrites"/> failed writes
/// in a row; a reply refused for capacity on its device waits up to <see cref="MaxCapacityWait"/> for replies ahead of it
/// to end. Anything else ends the reply. Pure bookkeeping over a clock, so every rule is unit-tested without a cluster.
/// </summary>
public sealed class ServerStepPolicy(TimeProvider? clock = null)
{
    public const int MaxFailedWrites = 3;
    public const int MaxTransientFailures = 8;
    public static readonly TimeSpan MaxCapacityWait = TimeSpan.FromSeconds(120);

    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private int _failedWrites, _transientFailures;
    private DateTimeOffset? _waitingForCapacitySince;

    /// <summary>Step writes that failed in a row.</summary>
    public int FailedWrites => _failedWrites;

    /// <summary>Whether the reply must stop at its last saved step rather than be redone again.</summary>
    public bool TooManyFailedWrites => _failedWrites >= MaxFailedWrites;

    public void WriteFailed() => _failedWrites++;

    public void WriteSucceeded() => _failedWrites = 0;

    /// <summary>A server step committed: transient faults and capacity waits start counting afresh.</summary>
    public void StepSucceeded()
    {
        _transientFailures = 0;
        _waitingForCapacitySince = null;
    }

    /// <summary>What to do after a server step threw <paramref name="e"/>; <paramref name="shuttingDown"/>: the activation is going away.</summary>
    public ServerStepDecision AfterFailure(Exception e, bool shuttingDown)
    {
        if (e is StepNotDurableException && !TooManyFailedWrites)
            return new(ServerStepAction.Retry, TimeSpan.FromMilliseconds(200 * _failedWrites), "its write failed; redone from the durable state");
        if (e is InconsistentStateException) return new(ServerStepAction.Stop, TimeSpan.Zero, "a newer activation owns the conversation");
        if (shuttingDown) return new(ServerStepAction.Stop, TimeSpan.Zero, "this activation is going away; the next one resumes");
        if (e is VerifierBusyException && StillWaitingForCapacity())
            return new(ServerStepAction.Retry, TimeSpan.FromMilliseconds(500), "the device is at capacity; waiting for replies ahead to end");
        if (IsTransient(e) && ++_transientFailures <= MaxTransientFailures)
            return new(ServerStepAction.Retry, TimeSpan.FromMilliseconds(250 * _transientFailures), $"transient ({e.GetType().Name}); retry {_transientFailures} of {MaxTransientFailures}");
        return new(ServerStepAction.FailReply, TimeSpan.Zero, e.GetType().Name);
    }

    private bool StillWaitingForCapacity()
    {
        _waitingForCapacitySince ??= _clock.GetUtcNow();
        return _clock.GetUtcNow() - _waitingForCapacitySince < MaxCapacityWait;
    }

    /// <summary>Failures that say nothing about the conversation: the runtime, a busy or restarting verifier, a timeout.</summary>
    private static bool IsTransient(Exception e) =>
        e is OrleansException or TimeoutException or VerifierBusyException or SessionNotLoadedException or ObjectDisposedException or OperationCanceledException;
}
