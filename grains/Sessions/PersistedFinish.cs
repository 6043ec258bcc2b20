using SpecEdge.Contracts;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// How <see cref="SessionState.ReplyFinish"/> stores why the last reply ended: the <see cref="ReplyFinish"/> name, or
/// "Error: " and the reader's message. Text rather than a number so that state written before the enum existed (the
/// same names) still reads.
/// </summary>
public static class PersistedFinish
{
    private const string ErrorPrefix = "Error: ";

    public static string Write(ReplyFinish reason, string? error = null) =>
        reason == ReplyFinish.Error ? ErrorPrefix + error : reason.ToString();

    public static (ReplyFinish? Reason, string? Error) Read(string? persisted) =>
        persisted is null ? (null, null)
        : persisted.StartsWith(ErrorPrefix, StringComparison.Ordinal) ? (ReplyFinish.Error, persisted[ErrorPrefix.Length..])
        : Enum.TryParse<ReplyFinish>(persisted, out var reason) ? (reason, null)
        : (ReplyFinish.Error, persisted);
}
