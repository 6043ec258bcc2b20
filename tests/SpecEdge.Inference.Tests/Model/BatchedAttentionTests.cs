using SpecEdge.Inference.Model;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Model;

/// <summary>
/// The batched attention path (one call per layer, padded, masks built on the device) against the per-sequence path
/// on the same inputs: mixed prefix lengths, a pending tree left by an earlier forward, one-token decodes beside
/// trees, and caches of different capacities (the shorter ones padded).
/// </summary>
[Trait("Kind", "unit")]
public class BatchedAttentionTests
{
    private const double Tolerance = 2e-4;

    public static IEnumerable<object[]> VariantsAndPadding() =>
        TestModels.Variants().SelectMany(v => new[] { 100.0, 0.0 }.Select(overhead => v.Append(overhead).ToArray()));

    /// <param name="overhead">100: one padded call for all five; 0: cut into length groups (several calls).</param>
    [Theory]
    [MemberData(nameof(VariantsAndPadding))]
    public void MixedBatch_BatchedEqualsPerSequence(string type, bool tied, int kvHeads, double overhead)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 4));
        model.MaxPaddingOverhead = overhead;
        var random = new Random(9);
        int[] prefixLengths = { 5, 23, 1, 12, 8 };
        int[] capacities = { 64, 40, 30, 64, 35 };
        var prefixes = prefixLengths.Select(n => TestModels.RandomTokens(random, n, config.VocabSize)).ToArray();
        // Sequence 3 gets a first tree now, and a second tree hanging off it in the measured step.
        var firstTree = (Tokens: TestModels.RandomTokens(random, 5, config.VocabSize), Parents: TestModels.RandomParents(random, 5));
        var step = new (int[] Tokens, int[] Parents)[]
        {
            (TestModels.RandomTokens(random, 7, config.VocabSize), TestModels.RandomParents(random, 7)),
            (TestModels.RandomTokens(random, 1, config.VocabSize), new[] { -1 }),
            (TestModels.RandomTokens(random, 11, config.VocabSize), TestModels.RandomParents(random, 11)),
            (TestModels.RandomTokens(random, 3, config.VocabSize), new[] { 4, 5, 0 }),
            (TestModels.RandomTokens(random, 2, config.VocabSize), new[] { -1, 0 }),
        };

        Tensor[] Run(AttentionPath path, KvCache[] caches)
        {
            model.Attention = path;
            for (int i = 0; i < caches.Length; i++)
                model.Forward(new[] { SequenceInput.Chain(caches[i], prefixes[i], lastLogitOnly: true) })[0].Dispose();
            model.Forward(new[] { new SequenceInput(caches[3], firstTree.Tokens, firstTree.Parents) })[0].Dispose();
            return model.Forward(step.Select((t, i) => new SequenceInput(caches[i], t.Tokens, t.Parents)).ToArray());
        }

        var batchedCaches = capacities.Select(model.NewCache).ToArray();
        var perSequenceCaches = capacities.Select(model.NewCache).ToArray();
        try
        {
            var batched = Run(AttentionPath.Batched, batchedCaches);
            var perSequence = Run(AttentionPath.PerSequence, perSequenceCaches);
            for (int i = 0; i < step.Length; i++)
            {
                Assert.Equal(perSequence[i].shape, batched[i].shape);
                for (int r = 0; r < step[i].Tokens.Length; r++)
                    TestModels.AssertClose(TestModels.Row(perSequence[i], r), TestModels.Row(batched[i], r), Tolerance, $"seq {i} row {r}");
                Assert.Equal(perSequenceCaches[i].Length, batchedCaches[i].Length);
            }
            foreach (var t in batched.Concat(perSequence)) t.Dispose();
        }
        finally
        {
            model.Attention = AttentionPath.Batched;
            foreach (var c in batchedCaches.Concat(perSequenceCaches)) c.Dispose();
        }
    }

    [Fact]
    public void DecodeBatch_EqualAndUnequalLengths_BatchedEqualsPerSequence()
    {
        var config = TestModels.Config("qwen3", tied: true, kvHeads: 2);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 6));
        var random = new Random(2);
        int[] prefixLengths = { 5, 5, 9, 5, 2 };
        var prefixes = prefixLengths.Select(n => TestModels.RandomTokens(random, n, config.VocabSize)).ToArray();
        var next = TestModels.RandomTokens(random, prefixLengths.Length, config.VocabSize);
        Tensor[] Run(AttentionPath path, KvCache[] caches)
        {
            model.Attention = path;
            for (int i = 0; i < caches.Length; i++)
                model.Forward(new[] { SequenceInput.Chain(caches[i], prefixes[i], lastLogitOnly: true) })[0].Dispose();
            return model.Forward(caches.Select((c, i) => SequenceInput.Chain(c, new[] { next[i] })).ToArray());
        }
        var a = prefixLengths.Select(_ => model.NewCache(32)).ToArray();
        var b = prefixLengths.Select(_ => model.NewCache(32)).ToArray();
        try
        {
            foreach (double overhead in new[] { 0.25, 100.0 })
            {
                model.MaxPaddingOverhead = overhead;
                foreach (var c in a.Concat(b)) c.Truncate(0);
                var batched = Run(AttentionPath.Batched, a);
                var perSequence = Run(AttentionPath.PerSequence, b);
                for (int i = 0; i < prefixLengths.Length; i++)
                    TestModels.AssertClose(TestModels.Row(perSequence[i], 0), TestModels.Row(batched[i], 0), Tolerance, $"overhead {overhead} seq {i}");
                foreach (var t in batched.Concat(perSequence)) t.Dispose();
            }
        }
        finally
        {
            model.Attention = AttentionPath.Batched;
            foreach (var c in a.Concat(b)) c.Dispose();
        }
    }

    [Fact]
    public void AncestorOrSelf_MatchesHostAncestors()
    {
        var random = new Random(3);
        int[] parents = TestModels.RandomParents(random, 20);
        var selfRooted = parents.Select((p, i) => (long)(p < 0 ? i : p)).ToArray();
        using var device = TreeAncestry.AncestorOrSelf(tensor(selfRooted).view(1, 20));
        var flags = device.data<bool>().ToArray();
        for (int u = 0; u < 20; u++)
        {
            var path = TreeLayout.PathTo(parents, u).ToHashSet();
            for (int v = 0; v < 20; v++) Assert.Equal(path.Contains(v), flags[u * 20 + v]);
        }
    }
}
