using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// One failing item in a batched forward fails alone: its sequence is left exactly as before the batch, and every
/// other item commits once; their outputs stay equal to plain decoding.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class BatchIsolationTests
{
    private const int Capacity = 256;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FailingItem_FailsAlone_OthersCommitOnce_AndStayExact(bool decodeWork)
    {
        var (target, draft) = Pair("qwen3", DraftKind.SameAsTarget);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);
        var random = new Random(21);
        var prompts = Enumerable.Range(0, 3).Select(i => TestModels.RandomTokens(random, 4 + 3 * i, target.Config.VocabSize)).ToArray();
        var plain = new StopCriteria(Array.Empty<int>(), 20);
        var expected = AutoregressiveDecoder.Generate(verifier, prompts.Select(p => new GenerationRequest(p, SamplingParams.Greedy, plain)).ToArray(), Capacity);

        // The middle sequence's stop rule throws when it looks at text: it fails inside the step, after the forward.
        var poisoned = new StopCriteria(Array.Empty<int>(), 20, new[] { "x" }, _ => throw new InvalidOperationException("poisoned decode"));
        var sequences = prompts.Select((p, i) => verifier.Start(p, SamplingParams.Greedy, i == 1 ? poisoned : plain, Capacity)).ToArray();
        var drafters = prompts.Select(p => new TreeDrafter(draft, p, new DraftTreeOptions { Budget = 8 }, Capacity)).ToArray();
        try
        {
            int committedBefore = sequences[1].Committed.Count, cacheBefore = sequences[1].Cache.Length;
            long stepBefore = sequences[1].Step;
            for (int round = 0; !sequences[0].Finished || !sequences[2].Finished; round++)
            {
                var work = new List<TargetWork>();
                for (int i = 0; i < 3; i++)
                {
                    if (sequences[i].Finished) continue;
                    if (decodeWork) { work.Add(new DecodeWork(sequences[i])); continue; }
                    var tree = drafters[i].BuildTree();
                    sequences[i].Validate(tree, target.Config.VocabSize);
                    work.Add(new VerifyWork(sequences[i], tree));
                }
                var results = verifier.Execute(work);
                for (int k = 0; k < work.Count; k++)
                {
                    int i = Array.IndexOf(sequences, work[k].Sequence);
                    if (i == 1)
                    {
                        Assert.NotNull(results[k].Error);
                        Assert.Contains("poisoned", results[k].Error!.Message);
                        drafters[1].Dispose();
                        drafters[1] = new TreeDrafter(draft, sequences[1].Committed, new DraftTreeOptions { Budget = 8 }, Capacity, sequences[1].Step);
                        continue;
                    }
                    Assert.Null(results[k].Error);
                    if (!decodeWork) drafters[i].ApplyVerdict(results[k].Verdict!);
                }
                // The failed sequence is exactly as it was: tokens, step and cache (a pending tree or chain dropped).
                Assert.Equal(committedBefore, sequences[1].Committed.Count);
                Assert.Equal(stepBefore, sequences[1].Step);
                Assert.Equal(cacheBefore, sequences[1].Cache.Length);
                Assert.True(round < 40, "healthy sequences must finish");
            }
            Assert.Equal(expected[0].Tokens, sequences[0].Generated.ToArray());
            Assert.Equal(expected[2].Tokens, sequences[2].Generated.ToArray());
        }
        finally
        {
            foreach (var s in sequences) s.Dispose();
            foreach (var d in drafters) d.Dispose();
        }
    }
}
