using System.Runtime.CompilerServices;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.OpenAi;

namespace SpecEdge.Silo.OpenAi;

/// <summary>
/// A reply in a SessionGrain, read from its reply stream under the caller's credential. When it has been delivered in
/// full, its conversation is indexed to this session, so the next request carrying that conversation continues here.
/// </summary>
internal sealed class GrainReplyRun(ISessionGrain session, OpenAiCaller caller, ReplyJob job, IConversationIndex index) : ReplyRun
{
    public override async IAsyncEnumerable<ReplyChunk> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Every call of the enumeration (start, each next, dispose) is made under the caller's credential.
        var chunks = session.StreamReplyAsync(0).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                bool more;
                using (CallerCredential.Use(caller.ApiKey)) more = await chunks.MoveNextAsync();
                if (!more) yield break;
                var chunk = chunks.Current;
                yield return chunk;
                if (chunk.Final) yield break;
            }
        }
        finally
        {
            using (CallerCredential.Use(caller.ApiKey)) await chunks.DisposeAsync();
        }
    }

    public override Task CompleteAsync(string replyText) => ConversationPlan.RecordReplyAsync(index, caller, job, SessionId, replyText);

    public override async Task StopAsync()
    {
        using (CallerCredential.Use(caller.ApiKey)) await session.StopReplyAsync();
    }
}
