namespace SpecEdge.Contracts;

/// <summary>
/// Where the silo's part of one edge step went, for benchmarks and diagnostics (sent only when the silo's
/// <c>SpecEdge:StepTimings</c> is on). <see cref="ReceivedUnixMicroseconds"/> is the session's wall clock when the tree
/// arrived; the rest are durations in microseconds: waiting for the device, the forward that verified it, the commit
/// (including the wait for the previous step's state write, i.e. the part of persistence on the critical path), and the
/// whole time from arrival to the verdict leaving the session. Comparing the arrival with an edge's send time needs
/// clocks in step (one machine, or NTP): the durations do not.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.StepTiming")]
public sealed record StepTiming(
    [property: Id(0)] long ReceivedUnixMicroseconds,
    [property: Id(1)] int QueueMicroseconds,
    [property: Id(2)] int VerifyMicroseconds,
    [property: Id(3)] int PersistMicroseconds,
    [property: Id(4)] int SessionMicroseconds)
{
    /// <summary>Microseconds since the Unix epoch now, on this machine's wall clock.</summary>
    public static long NowUnixMicroseconds() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
}
