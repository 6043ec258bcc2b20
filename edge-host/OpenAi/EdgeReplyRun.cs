using System.Runtime.CompilerServices;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.OpenAi;

namespace SpecEdge.EdgeHost.OpenAi;

/// <summary>
/// A reply being drafted by this host (<paramref name="drafting"/>) and read from the session's reply stream over the
/// edge gateway (<paramref name="link"/>), the same stream the silo's endpoint reads, so the text is the same. A client
/// that goes away stops the reply over the same link; the link closes with the run. The drafting task ends on its own
/// (it detaches and frees its draft model).
/// </summary>
internal sealed class EdgeReplyRun(GatewayEdgeLink link, Task drafting, Func<string, Task> record) : ReplyRun
{
    public Task Drafting => drafting;

    public override async IAsyncEnumerable<ReplyChunk> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var chunk in link.StreamReplyAsync(0, cancellationToken))
        {
            yield return chunk;
            if (chunk.Final) yield break;
        }
    }

    public override Task CompleteAsync(string replyText) => record(replyText);

    public override Task StopAsync() => link.StopReplyAsync(TimeSpan.FromSeconds(10));

    public override ValueTask DisposeAsync() => link.DisposeAsync();
}
