using System.Diagnostics;
using SpecEdge.Inference.Model;

namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Drives tree speculative decoding in one process: per step every active sequence's <see cref="TreeDrafter"/> builds
/// a tree, optionally pre-drafts, and the <see cref="TargetVerifier"/> verifies all trees in one batched forward. The
/// two sides exchange only <see cref="DraftMessage"/>/<see cref="VerdictMessage"/>, exactly as across a network.
/// Used for server-only SD (draft beside the target) and to emulate edge-assisted SD in tests and benchmarks. With a
/// <see cref="TreeTrimmer"/>, each forward verifies only what pays, as the verifier grain does.
/// </summary>
public static class SpeculativeDecoder
{
    private static string Key(int request) => request.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static GenerationResult[] Generate(TargetVerifier verifier, CausalLm draft, IReadOnlyList<GenerationRequest> requests,
        DraftTreeOptions options, int capacity, DecodeTimings? timings = null, TreeTrimmer? trimmer = null, double trimWaitMs = 0)
    {
        var sequences = new List<TargetSequence>();
        var drafters = new List<TreeDrafter>();
        var forwards = new int[requests.Count];
        var logprobs = requests.Select(_ => new List<TokenLogprob>()).ToArray();
        try
        {
            foreach (var r in requests)
            {
                sequences.Add(verifier.Start(r.Prompt, r.Sampling, r.Stop, capacity));
                // The draft side holds the tree's candidates on top of the context the target holds: give it headroom.
                drafters.Add(new TreeDrafter(draft, r.Prompt, options with { GreedyVerification = r.Sampling.IsGreedy }, capacity + options.DraftCacheHeadroom)
                    { ContextLimit = capacity });
            }
            var clock = new Stopwatch();
            var recorded = new RecordedGeneration(requests, capacity, new());
            timings?.Recorded.Add(recorded);
            while (true)
            {
                var active = Enumerable.Range(0, requests.Count).Where(i => !sequences[i].Finished).ToArray();
                if (active.Length == 0) break;

                var batch = new List<(TargetSequence, DraftMessage)>();
                foreach (int i in active)
                {
                    clock.Restart();
                    var tree = drafters[i].NextTree(requests[i].Sampling.Grammar, requests[i].Prompt.Length, verifier.Masker);
                    clock.Stop();
                    timings?.DraftLatencies.Add(clock.Elapsed.TotalSeconds);
                    if (timings is not null) timings.DraftSeconds += clock.Elapsed.TotalSeconds;
                    sequences[i].Validate(tree, verifier.Model.Config.VocabSize);
                    batch.Add((sequences[i], tree));
                }
                var verified = Enumerable.Repeat(-1, batch.Count).ToArray();
                var drafted = batch.Select(b => b.Item2).ToArray();
                if (trimmer is not null)
                {
                    var rule = trimmer.Rule(active.Select(Key), trimWaitMs);
                    (var trimmed, verified) = rule.Apply(batch.Select((b, k) => (Key(active[k]), (TargetWork)new VerifyWork(b.Item1, b.Item2))).ToList());
                    batch = trimmed.Select(w => (w.Sequence, ((VerifyWork)w).Tree)).ToList();
                }
                if (timings is not null)
                {
                    foreach (var (_, tree) in batch) { timings.Trees++; timings.TreeNodes += tree.Tokens.Length - 1; }
                    recorded.Steps.Add((active, batch.Select(b => b.Item2).ToArray()));
                }
                if (options.Proactive)
                {
                    foreach (int i in active)
                    {
                        clock.Restart();
                        drafters[i].PreDraft();
                        clock.Stop();
                        timings?.PreDraftLatencies.Add(clock.Elapsed.TotalSeconds);
                        if (timings is not null) timings.DraftSeconds += clock.Elapsed.TotalSeconds;
                    }
                }

                clock.Restart();
                var verdicts = verifier.Verify(batch);
                clock.Stop();
                if (timings is not null)
                {
                    timings.TargetSeconds += clock.Elapsed.TotalSeconds;
                    timings.TargetForwards++;
                    timings.Steps.Add((active.Length, clock.Elapsed.TotalSeconds));
                }
                if (trimmer is not null)
                {
                    var shape = ForwardShape.Of(batch.Select(b => (TargetWork)new VerifyWork(b.Item1, b.Item2)));
                    trimmer.ObserveForward(shape, clock.Elapsed.TotalMilliseconds);
                }
                for (int k = 0; k < active.Length; k++)
                {
                    forwards[active[k]]++;
                    timings?.StepTokens.Add(verdicts[k].AcceptedTokens.Length);
                    trimmer?.ObserveVerdict(Key(active[k]), drafted[k], verdicts[k]);
                    // In one process there is no queue and no network: the batch and the forward time are the load.
                    double ms = clock.Elapsed.TotalMilliseconds;
                    drafters[active[k]].Complete(verdicts[k], new VerifierLoad(active.Length, 0, ms, ms, verified[k]));
                    logprobs[active[k]].AddRange(verdicts[k].Logprobs ?? []);
                }
            }
            return sequences.Select((s, i) => new GenerationResult(s.Generated.ToArray(), s.Finish, forwards[i],
                drafters[i].ProactiveHits, drafters[i].ProactiveMisses) { Logprobs = logprobs[i] }).ToArray();
        }
        finally
        {
            if (trimmer is not null) for (int i = 0; i < requests.Count; i++) trimmer.Forget(Key(i));
            foreach (var s in sequences) s.Dispose();
            foreach (var d in drafters) d.Dispose();
        }
    }
}
