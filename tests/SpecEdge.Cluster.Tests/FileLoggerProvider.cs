using Microsoft.Extensions.Logging;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Appends the in-process silos' warnings and errors (and SpecEdge's information) to a file, for post-mortems of a
/// failing test: set SPECEDGE_TEST_LOG=/path/to/file before <c>dotnet test</c>.
/// </summary>
public sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private static readonly object Gate = new();

    public ILogger CreateLogger(string categoryName) => new FileLogger(path, categoryName);
    public void Dispose() { }

    private sealed class FileLogger(string path, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel level) =>
            level >= LogLevel.Warning || (level >= LogLevel.Information && category.StartsWith("SpecEdge", StringComparison.Ordinal));

        public void Log<TState>(LogLevel level, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(level)) return;
            string line = $"{DateTime.UtcNow:HH:mm:ss.fff} {level} {category}: {formatter(state, exception)}{(exception is null ? "" : Environment.NewLine + exception)}{Environment.NewLine}";
            lock (Gate) File.AppendAllText(path, line);
        }
    }
}
