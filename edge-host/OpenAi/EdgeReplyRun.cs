using System.Runtime.CompilerServices;
using SpecEdge.Contracts;
using SpecEdge.OpenAi;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// A reply being drafted by this host (<paramref name="drafting"/>) and read from the session's reply stream, the same
/// stream the silo's endpoint reads, so the text is the same. Reading ends with the final chunk; the drafting task
/// ends on its own (it detaches and frees its draft model).
/// </summary>
internal sealed class EdgeReplyRun(ISessionGrain session, Task drafting, Func<string, Task> record) : ReplyRun
{
    public Task Drafting => drafting;

    public override async IAsyncEnumerable<ReplyChunk> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var chunk in session.StreamReplyAsync(0).WithCancellation(cancellationToken))
        {
            yield return chunk;
            if (chunk.Final) yield break;
        }
    }

    public override Task CompleteAsync(string replyText) => record(replyText);
}
