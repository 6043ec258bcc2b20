using Microsoft.Extensions.Logging;
using SpecEdge.Grains.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>A hostile caller decides how often it is refused, not how much is logged: one line per caller per interval, without a stack.</summary>
[Trait("Kind", "unit")]
public class RefusalLogTests
{
    private sealed class SteppedClock : TimeProvider
    {
        public long Now;
        public override long GetTimestamp() => Now;
        public override long TimestampFrequency => 1000;
    }

    private sealed class Lines : ILogger<RefusalLog>
    {
        public readonly List<(LogLevel Level, string Text, Exception? Exception)> Written = new();
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Written.Add((logLevel, formatter(state, exception), exception));
    }

    [Fact]
    public void AThousandRefusals_OfOneCaller_WriteOneWarning_ThenOneMorePerInterval_WithTheCountSuppressed()
    {
        var clock = new SteppedClock();
        var lines = new Lines();
        var log = new RefusalLog(lines, clock);
        for (int i = 0; i < 1000; i++) log.Refused("edge e of t/a", "ISessionGrain.GetAsync", "the credential is for another conversation");
        log.Refused("service of tenant b", "ISessionGrain.GetAsync", "a service may only address conversations of its own tenant");
        Assert.Equal(2, lines.Written.Count);
        Assert.All(lines.Written, l => { Assert.Equal(LogLevel.Warning, l.Level); Assert.Null(l.Exception); });

        clock.Now += (long)(RefusalLog.Interval.TotalMilliseconds + 1);
        Assert.True(log.Refused("edge e of t/a", "ISessionGrain.GetAsync", "the credential is for another conversation"));
        Assert.Contains("999 more refusals", lines.Written[^1].Text);
        Assert.False(log.Refused("edge e of t/a", "ISessionGrain.GetAsync", "again"));
    }
}
