using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;

namespace SpecEdge.Grains.Hosting;

/// <summary>
/// What a session's callers (edge hosts, backends) may see of a failure. Exceptions of types they cannot load
/// (our silo-side types, storage SDK types) reached edge hosts as TypeLoadException, found by the soak run, and storage
/// errors carry internal addresses. So errors leaving an <see cref="ISessionGrain"/> method are kept when they are
/// plain .NET argument/state/timeout errors with our own messages, and otherwise replaced by an
/// <see cref="InvalidOperationException"/> with a message that names no internal type, address, silo or session.
/// </summary>
public sealed class CallerSafeErrorsFilter(ILogger<CallerSafeErrorsFilter> logger) : IIncomingGrainCallFilter
{
    public async Task Invoke(IIncomingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType != typeof(ISessionGrain)) { await context.Invoke(); return; }
        try
        {
            await context.Invoke();
        }
        catch (Exception e) when (!IsCallerSafe(e))
        {
            logger.LogWarning(e, "{Method} failed; the caller gets a sanitised error", context.InterfaceMethod.Name);
            // Keep the category (a refused input vs a state to retry).
            if (e is ArgumentException && OurAssemblies.Contains(e.GetType().Assembly)) throw new ArgumentException(e.Message);
            throw new InvalidOperationException(MessageFor(e));
        }
    }

    /// <summary>
    /// The text of <paramref name="e"/> a caller may read (also used where an error travels as data: tree rejections,
    /// a reply's error chunk): our own messages as they are, anything else as a generic retryable error.
    /// </summary>
    public static string MessageFor(Exception e) =>
        e is Orleans.Storage.InconsistentStateException
            ? "Another activation of this conversation wrote first (storage ETag conflict, InconsistentState); nothing of this request was kept. Retry."
        : IsCallerSafe(e) || OurAssemblies.Contains(e.GetType().Assembly) ? e.Message
        : "The server could not complete the request; the conversation is unchanged. Retry shortly.";

    private static readonly HashSet<System.Reflection.Assembly> OurAssemblies = new()
    {
        typeof(CallerSafeErrorsFilter).Assembly, typeof(ISessionGrain).Assembly, typeof(Inference.Speculative.InvalidDraftException).Assembly,
    };

    /// <summary>Types every client can deserialize, whose messages we write ourselves.</summary>
    private static bool IsCallerSafe(Exception e) =>
        e.GetType().Assembly == typeof(ISessionGrain).Assembly   // contract exceptions exist to reach callers
        || (e.GetType().Assembly == typeof(object).Assembly
            && e is ArgumentException or InvalidOperationException or TimeoutException or OperationCanceledException or NotSupportedException);
}
