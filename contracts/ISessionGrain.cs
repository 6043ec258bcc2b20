using Orleans.Concurrency;
namespace SpecEdge.Contracts;

/// <summary>
/// One conversation, keyed by session id. Backend services call it directly; edge hosts attach to it and push draft
/// trees (through the <see cref="ChannelNames.Provider"/> broadcast channel, or <see cref="SubmitTreeAsync"/>).
/// With no edge attached the server decodes on its own; at temperature 0 the reply is the same either way.
/// Requests that change the conversation run one at a time; reads, chats and reply streams interleave with them.
/// </summary>
[Alias("specedge.ISessionGrain")]
public interface ISessionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sets sampling/stop settings for the next replies. Settings out of the silo's limits (non-finite or too high
    /// temperature, TopP outside (0, 1], negative TopK, MaxNewTokens outside [1, limit], too many, empty or too long stop
    /// strings, too long a system prompt) throw an <see cref="ArgumentException"/> naming the field and the limit, and
    /// change nothing. Throws <see cref="InvalidOperationException"/> while a reply is being generated.
    /// </summary>
    [Alias("ConfigureAsync")]
    Task ConfigureAsync(GenerationSettings settings);

    /// <summary>
    /// Appends a user message and starts the assistant's reply; returns at once. The text is ordinary text: chat markers
    /// spelled in it (e.g. &lt;|im_start|&gt;) do not become special tokens. A null, empty or too long message throws an
    /// <see cref="ArgumentException"/> before anything is done; a message while a reply is in progress (or starting)
    /// throws <see cref="InvalidOperationException"/>, as does one that would not fit the context.
    /// </summary>
    [Alias("SendUserMessageAsync")]
    Task<TurnStarted> SendUserMessageAsync(string text);

    /// <summary>
    /// <see cref="ConfigureAsync"/> and <see cref="SendUserMessageAsync"/> in one call and one state write (a stateless
    /// API sets sampling per request). <see cref="TurnRequest.History"/> is only accepted while the conversation is
    /// empty (otherwise <see cref="InvalidOperationException"/>); each of its turns is checked like a user message and
    /// must have the role "user" or "assistant". Settings and message errors are those of the two methods it replaces.
    /// </summary>
    [Alias("BeginTurnAsync")]
    Task<TurnStarted> BeginTurnAsync(TurnRequest request);

    /// <summary>
    /// Sends a user message and waits for the whole reply (backend convenience). Interleaves with the session's other
    /// requests while it waits; the turn itself starts as an ordinary request.
    /// </summary>
    [AlwaysInterleave]
    [Alias("ChatAsync")]
    Task<string> ChatAsync(string text);

    /// <summary>
    /// Stops the reply in progress where it is (its caller went away): what was committed stays committed and readable,
    /// readers get a final chunk (<see cref="ReplyFinish.Cancelled"/>), and the session takes the next message at once.
    /// False when no reply was in progress. Interleaves, so that a hand-back run in progress (server steps inside one
    /// request, up to SpecEdge:HandBackMaxMilliseconds) ends at its next step rather than running its course first; the
    /// stop itself then runs as an ordinary request (<see cref="EndReplyAsync"/>), in order with the session's others.
    /// </summary>
    [AlwaysInterleave]
    [Alias("StopReplyAsync")]
    Task<bool> StopReplyAsync();

    /// <summary>The stop of <see cref="StopReplyAsync"/> as an ordinary request (it calls this); callers use <see cref="StopReplyAsync"/>.</summary>
    [Alias("EndReplyAsync")]
    Task<bool> EndReplyAsync();

    /// <summary>The reply in progress (or the last one) as it is generated, from chunk <paramref name="fromChunk"/> on.</summary>
    [Alias("StreamReplyAsync")]
    IAsyncEnumerable<ReplyChunk> StreamReplyAsync(int fromChunk = 0);

    /// <summary>The conversation as durably stored (never a step whose state write is still in flight). Interleaves.</summary>
    [AlwaysInterleave]
    [Alias("GetAsync")]
    Task<SessionSnapshot> GetAsync();

    /// <summary>Attaches an edge host; it replaces any other edge. Verdicts go to <paramref name="observer"/>.</summary>
    [Alias("AttachEdgeAsync")]
    Task<EdgeAttachment> AttachEdgeAsync(string edgeId, IEdgeObserver observer);

    [Alias("DetachEdgeAsync")]
    Task DetachEdgeAsync(string edgeId);

    /// <summary>Verifies a tree and returns the verdict directly (request/response path; the channel path is push).</summary>
    [Alias("SubmitTreeAsync")]
    Task<StepVerdict> SubmitTreeAsync(TreeSubmission tree);
}
