using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Pipeline-aware batching changes only which trees share a forward, never what a tree yields: eight concurrent edges
/// whose (emulated) draft time makes the planner split them into groups still get the target's greedy reply each.
/// </summary>
[Collection(PipelineBatchingCollection.Name)]
[Trait("Kind", "cluster")]
public class PipelineBatchingTests(PipelineBatchingClusterFixture f, ITestOutputHelper output)
{
    [Fact]
    public async Task ConcurrentEdges_UnderPipelineAwareBatching_EachGetTheTargetsGreedyReply()
    {
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(new VerifierKey(f.Cluster.Silos[0].Name, 0).ToString());
        long before = (await verifier.GetStatsAsync()).Forwards;
        var runs = Enumerable.Range(0, 8).Select(i => SessionTestHelpers.EdgeReplyAsync(f, $"test/pipeline-{i}", SessionTestHelpers.Prompts[i % SessionTestHelpers.Prompts.Length],
            i % 2 == 0 ? f.PerfectDraft : f.UnrelatedDraft, proactive: false, emulatedDraftTime: TimeSpan.FromMilliseconds(5))).ToArray();
        var results = await Task.WhenAll(runs);
        var batches = (await verifier.GetStatsAsync()).BatchesSince(before);
        output.WriteLine($"{batches.Length} forwards, batch sizes: {string.Join(",", batches)}");
        foreach (var (reply, prompt, stats) in results)
        {
            Assert.Equal(f.ReferenceGreedy(prompt, 24), reply);
            // StepTimings is on in this cluster: every verdict carries the silo's breakdown, and its parts fit in its total.
            Assert.All(stats.Timings, t =>
            {
                Assert.NotNull(t.Server);
                Assert.True(t.Server!.VerifyMicroseconds > 0 && t.Server.QueueMicroseconds >= 0 && t.Server.PersistMicroseconds >= 0);
                Assert.True(t.Server.QueueMicroseconds + t.Server.VerifyMicroseconds + t.Server.PersistMicroseconds <= t.Server.SessionMicroseconds,
                    $"queue {t.Server.QueueMicroseconds} + verify {t.Server.VerifyMicroseconds} + persist {t.Server.PersistMicroseconds} > session {t.Server.SessionMicroseconds} µs");
                Assert.True(t.DraftMs >= 5, $"the emulated draft time (5 ms) was not waited out: {t.DraftMs:F2} ms");
            });
        }
    }
}
