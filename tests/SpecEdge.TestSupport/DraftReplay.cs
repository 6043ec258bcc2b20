using System.Diagnostics;
using SpecEdge.EdgeClient;
using SpecEdge.Protocol;

namespace SpecEdge.TestSupport;

/// <summary>
/// The benchmarks' draft source that costs no compute: the trees an earlier, identical greedy reply drafted (recorded
/// through <see cref="EdgeSession.TreeDrafted"/>), submitted again in order, each after the edge's emulated draft time.
/// The same trees give the same verdicts, so many emulated edges on a few cores load the verifier as real ones would,
/// without their drafting taking its cores. A verdict that leaves the recorded path ends the replay with an error: the
/// recording is not of this prompt, model or settings.
/// </summary>
public static class DraftReplay
{
    public static async Task<ReplyStats> RunAsync(EdgeSession edge, IReadOnlyList<DraftMessage> trees, Action<int[]>? onTokens = null, CancellationToken cancellation = default)
    {
        var wall = Stopwatch.StartNew();
        var timings = new List<EdgeStepTiming>();
        var stepMs = new List<double>();
        var serverMs = new List<double>();
        var first = edge.TakeFirstTokens();   // the server's first step of the reply, before the recorded trees
        int tokens = first.Length;
        if (first.Length > 0) onTokens?.Invoke(first);
        double waitSeconds = 0;
        for (int i = 0; i < trees.Count; i++)
        {
            var tree = trees[i];
            var clock = Stopwatch.StartNew();
            await edge.WaitOutDraftTimeAsync(clock, cancellation);
            double draftMs = clock.Elapsed.TotalMilliseconds;
            var step = Stopwatch.StartNew();
            var (verdict, sent, arrived) = await edge.SubmitTreeAsync(tree);
            stepMs.Add(step.Elapsed.TotalMilliseconds);
            serverMs.Add(verdict.ServerMilliseconds);
            waitSeconds += step.Elapsed.TotalSeconds;
            tokens += verdict.AcceptedTokens.Length;
            onTokens?.Invoke(verdict.AcceptedTokens);
            timings.Add(new EdgeStepTiming(draftMs, sent, arrived, 0, 0, verdict.AcceptedTokens.Length, verdict.Timing));
            if (verdict.Finished) break;
            if (i + 1 == trees.Count || trees[i + 1].CommittedLength != tree.CommittedLength + verdict.AcceptedTokens.Length)
                throw new InvalidOperationException($"Step {tree.Step} of session '{edge.SessionId}' left the recorded path: the recording is not of this prompt and model.");
        }
        return new ReplyStats(timings.Count, tokens, 0, waitSeconds, wall.Elapsed.TotalSeconds, 0, 0, stepMs, serverMs) { Timings = timings };
    }
}
