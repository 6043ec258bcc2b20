using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The e2e benchmark's draft replay (trees recorded through EdgeSession.TreeDrafted, replayed by DraftReplay): a recorded reply's trees, submitted again
/// in a fresh session, give the same greedy reply without drafting; a recording that does not fit is refused, not followed.
/// </summary>
[Collection(ClusterCollection.Name)]
[Trait("Kind", "cluster")]
public class DraftReplayTests(ClusterFixture f)
{
    private static readonly DraftTreeOptions Tree = new() { Budget = 12, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4 };

    private async Task<(int[] Reply, int[] Prompt, List<DraftMessage> Trees)> ReplyAsync(string sessionId, CausalLm draft, IReadOnlyList<DraftMessage>? replay)
    {
        await f.Client.GetGrain<ISessionGrain>(sessionId).ConfigureAsync(SessionTestHelpers.Greedy(24));
        var recording = new List<DraftMessage>();
        using var edge = new EdgeSession(f.Client, draft, sessionId, "edge-" + sessionId, Tree, capacity: 600) { TreeDrafted = replay is null ? recording.Add : null };
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[2]);
        var prompt = edge.Prompt;
        var reply = new List<int>();
        if (replay is null) await edge.RunReplyAsync(reply.AddRange);
        else await DraftReplay.RunAsync(edge, replay, reply.AddRange);
        await edge.DetachAsync();
        return (reply.ToArray(), prompt, recording);
    }

    [Fact]
    public async Task ARecordedReply_ReplaysToTheTargetsGreedyReply_AndATamperedRecordingIsRefused()
    {
        var (recordedReply, prompt, trees) = await ReplyAsync("test/replay-record", f.PerfectDraft, replay: null);
        Assert.Equal(f.ReferenceGreedy(prompt, 24), recordedReply);
        Assert.True(trees.Count >= 2, $"{trees.Count} trees recorded");

        var (replayed, replayPrompt, _) = await ReplyAsync("test/replay-again", f.UnrelatedDraft, trees);   // the draft model is never asked
        Assert.Equal(prompt, replayPrompt);
        Assert.Equal(recordedReply, replayed);

        // The first tree's drafted tokens replaced by others: its verdict accepts less, and the next recorded tree no longer fits.
        var tampered = trees.ToList();
        var first = tampered[0];
        tampered[0] = first with { Tokens = first.Tokens.Select((t, i) => i == 0 ? t : (t + 1) % f.PerfectDraft.Config.VocabSize).ToArray() };
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => ReplyAsync("test/replay-tampered", f.PerfectDraft, tampered));
        Assert.Contains("left the recorded path", refused.Message);
    }
}
