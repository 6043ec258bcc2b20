using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// A reply that has started: which conversation holds it, how many prompt tokens the model read (and how many of them
/// came from a reused session), and its chunks as they are committed.
/// </summary>
public abstract class ReplyRun : IAsyncDisposable
{
    public required string SessionId { get; init; }
    /// <summary>Every token before the reply: the whole conversation, as OpenAI counts <c>prompt_tokens</c>.</summary>
    public required int PromptTokens { get; init; }
    /// <summary>Of <see cref="PromptTokens"/>, those already in the continued session (not encoded for this request).</summary>
    public required int CachedTokens { get; init; }

    /// <summary>The reply's chunks up to and including the final one.</summary>
    public abstract IAsyncEnumerable<ReplyChunk> ReadAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Called once the whole reply (text exactly as the API returned it) is about to reach the client, so that a follow-up
    /// request carrying it can continue this conversation.
    /// </summary>
    public abstract Task CompleteAsync(string replyText);

    /// <summary>
    /// The client went away (closed the request, or the SDK's abort): stop the reply where it is, so that nothing keeps
    /// generating for nobody and the conversation takes its next message at once. A host that cannot stop one lets it run.
    /// </summary>
    public virtual Task StopAsync() => Task.CompletedTask;

    /// <summary>Frees what the run holds (a connection); called once the request is done, however it ended.</summary>
    public virtual ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
