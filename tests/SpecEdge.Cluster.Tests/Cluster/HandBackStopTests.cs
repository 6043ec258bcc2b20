using System.Diagnostics;
using SpecEdge.Contracts;
using SpecEdge.EdgeClient;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A stop of the reply while a hand-back run is in progress: the run is one request of many server steps, and the stop
/// interleaves with it, so the run ends at its next step and the stop follows at once, instead of the stop waiting for
/// the run's course (here, the rest of the reply). What was committed stays the target's own.
/// </summary>
[Trait("Kind", "cluster")]
public class HandBackStopTests(LongHandBackClusterFixture f, ITestOutputHelper output) : IClassFixture<LongHandBackClusterFixture>
{
    [Fact]
    public async Task AStop_EndsAHandBackRunAtItsNextStep_AndWhatWasCommittedIsTheTargets()
    {
        const string id = "test/hand-back-stop";
        const int newTokens = 440;
        var settings = SessionTestHelpers.Greedy(newTokens);
        var session = f.Client.GetGrain<ISessionGrain>(id);
        await session.ConfigureAsync(settings);
        using var edge = new EdgeSession(f.Client, f.PerfectDraft, id, "edge-" + id,
            new DraftTreeOptions { Budget = 16, MaxDepth = 4, MaxBeams = 6, BranchWidth = 4 }, capacity: 600);
        await edge.AttachAsync();
        await edge.SendAsync(SessionTestHelpers.Prompts[1]);
        var prompt = edge.Prompt;
        var replying = edge.RunReplyAsync();

        // The run is under way once the server has committed steps beyond the edge's first two (readers see each).
        SessionSnapshot seen;
        var wait = Stopwatch.StartNew();
        do
        {
            await Task.Delay(10);
            seen = await session.GetAsync();
        }
        while (seen.Generating && seen.CommittedTokens - prompt.Length < 8 && wait.Elapsed < TimeSpan.FromSeconds(30));
        Assert.True(seen.Generating, $"the reply ended ({seen.CommittedTokens - prompt.Length} tokens) before the run could be stopped");

        var stopping = Stopwatch.StartNew();
        bool stopped = await session.StopReplyAsync();
        stopping.Stop();
        // Waiting for the run instead, the stop would find the reply finished (440 tokens) or wait up to 10 s.
        Assert.True(stopped, "the stop found no reply in progress: it waited for the run to finish the reply");
        Assert.True(stopping.Elapsed < TimeSpan.FromSeconds(3), $"the stop took {stopping.Elapsed.TotalSeconds:F1} s");
        output.WriteLine($"stopped after {seen.CommittedTokens - prompt.Length} reply tokens seen, in {stopping.Elapsed.TotalMilliseconds:F0} ms");
        var ending = Stopwatch.StartNew();
        try { await replying.WaitAsync(TimeSpan.FromSeconds(30)); }
        catch (Exception e) when (e is not TimeoutException) { output.WriteLine($"the edge's loop ended with {e.GetType().Name}: {e.Message}"); }
        output.WriteLine($"the edge's loop ended {ending.Elapsed.TotalMilliseconds:F0} ms after the stop");

        var stored = await session.GetAsync();
        Assert.False(stored.Generating);
        int replyLength = stored.CommittedTokens - prompt.Length;
        Assert.InRange(replyLength, 8, newTokens - 1);
        var reply = new List<int>();
        await foreach (var chunk in session.StreamReplyAsync()) reply.AddRange(chunk.Tokens);
        Assert.Equal(replyLength, reply.Count);
        Assert.Equal(f.ReferenceReply(prompt, settings with { Seed = 0 }).Take(replyLength), reply);
    }
}
