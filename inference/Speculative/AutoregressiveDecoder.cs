using System.Diagnostics;

namespace SpecEdge.Inference.Speculative;

/// <summary>Target-only decoding, one token per sequence per forward, batched over sequences: the baseline.</summary>
public static class AutoregressiveDecoder
{
    public static GenerationResult[] Generate(TargetVerifier verifier, IReadOnlyList<GenerationRequest> requests, int capacity, DecodeTimings? timings = null)
    {
        var sequences = requests.Select(r => verifier.Start(r.Prompt, r.Sampling, r.Stop, capacity)).ToArray();
        var forwards = new int[sequences.Length];
        var logprobs = sequences.Select(_ => new List<TokenLogprob>()).ToArray();
        try
        {
            while (true)
            {
                var active = Enumerable.Range(0, sequences.Length).Where(i => !sequences[i].Finished).ToArray();
                if (active.Length == 0) break;
                var clock = Stopwatch.StartNew();
                var results = verifier.Execute(active.Select(i => (TargetWork)new DecodeWork(sequences[i])).ToArray());
                clock.Stop();
                for (int k = 0; k < active.Length; k++) logprobs[active[k]].AddRange(results[k].VerdictOrThrow().Logprobs ?? []);
                foreach (int i in active) forwards[i]++;
                if (timings is not null)
                {
                    timings.TargetSeconds += clock.Elapsed.TotalSeconds;
                    timings.TargetForwards++;
                    timings.Steps.Add((active.Length, clock.Elapsed.TotalSeconds));
                }
            }
            return sequences.Select((s, i) => new GenerationResult(s.Generated.ToArray(), s.Finish, forwards[i]) { Logprobs = logprobs[i] }).ToArray();
        }
        finally
        {
            foreach (var s in sequences) s.Dispose();
        }
    }
}
