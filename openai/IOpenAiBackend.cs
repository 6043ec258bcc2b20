namespace SpecEdge.OpenAi;

/// <summary>
/// What serves the API: the silo (sessions as grains) or an edge host. The endpoints parse, validate and format; the
/// backend authenticates keys and runs replies.
/// </summary>
public interface IOpenAiBackend
{
    /// <summary>The model ids this backend answers for.</summary>
    IReadOnlyList<string> ModelIds { get; }

    /// <summary>How the served model writes function calls (its chat format's); null when its format renders no tools.</summary>
    Inference.Tokenization.ToolCallSyntax? ToolCalls { get; }

    /// <summary>The caller a key belongs to; throws <see cref="OpenAiException"/> (401) for a key it does not accept.</summary>
    OpenAiCaller Authenticate(string apiKey);

    /// <summary>
    /// Starts the reply for <paramref name="job"/> on behalf of <paramref name="caller"/>; refusals are
    /// <see cref="OpenAiException"/>s naming the request field at fault.
    /// </summary>
    Task<ReplyRun> StartAsync(OpenAiCaller caller, ReplyJob job, CancellationToken cancellationToken);
}
