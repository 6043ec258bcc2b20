namespace SpecEdge.Contracts;

/// <summary>
/// One conversation, keyed by session id. Backend services call it directly; edge hosts attach to it and push draft
/// trees (through the <see cref="ChannelNames.Provider"/> broadcast channel, or <see cref="SubmitTreeAsync"/>).
/// With no edge attached the server decodes on its own; at temperature 0 the reply is the same either way.
/// </summary>
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>Sets sampling/stop settings for the next replies.</summary>
    Task ConfigureAsync(GenerationSettings settings);

    /// <summary>Appends a user message and starts the assistant's reply; returns at once.</summary>
    Task<TurnStarted> SendUserMessageAsync(string text);

    /// <summary>Sends a user message and waits for the whole reply (backend convenience).</summary>
    Task<string> ChatAsync(string text);

    /// <summary>The reply in progress (or the last one) as it is generated, from chunk <paramref name="fromChunk"/> on.</summary>
    IAsyncEnumerable<ReplyChunk> StreamReplyAsync(int fromChunk = 0);

    Task<SessionSnapshot> GetAsync();

    /// <summary>Attaches an edge host; it replaces any other edge. Verdicts go to <paramref name="observer"/>.</summary>
    Task<EdgeAttachment> AttachEdgeAsync(string edgeId, IEdgeObserver observer);

    Task DetachEdgeAsync(string edgeId);

    /// <summary>Verifies a tree and returns the verdict directly (request/response path; the channel path is push).</summary>
    Task<StepVerdict> SubmitTreeAsync(TreeSubmission tree);
}
