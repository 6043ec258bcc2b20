using SpecEdge.Inference.Model;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Model;

/// <summary>
/// Padding a forward's matrix products by one row (<see cref="CausalLm.RowMultiple"/>) changes nothing but speed: the
/// same logits and the same caches as unpadded, for trees and batches whose row count is one short of a multiple of
/// four, on both attention paths, with a pending tree and with the head on the last rows only.
/// </summary>
[Trait("Kind", "unit")]
public class PaddedRowsTests
{
    private const double Tolerance = 2e-4;

    [Theory]
    [InlineData(4, 2, 2)]     // 2 rows: not padded
    [InlineData(4, 3, 4)]     // 3 rows: one padding row
    [InlineData(4, 7, 8)]
    [InlineData(4, 9, 9)]
    [InlineData(4, 1, 1)]     // one token keeps its matrix-vector path
    [InlineData(1, 7, 7)]     // off
    public void OnlyRowCountsOneShortOfTheBlock_ArePadded(int multiple, int rows, int padded)
    {
        var config = TestModels.Config("qwen3", tied: true, kvHeads: 2);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 3));
        model.RowMultiple = multiple;
        Assert.Equal(padded, model.PaddedRows(rows));
    }

    [Theory]
    [InlineData(AttentionPath.Batched)]
    [InlineData(AttentionPath.PerSequence)]
    public void PaddedForwards_EqualUnpadded_LogitsAndCaches(AttentionPath path)
    {
        var config = TestModels.Config("qwen3", tied: true, kvHeads: 2);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 5));
        model.Attention = path;
        var random = new Random(11);
        var prefixes = new[] { 7, 13, 11 }.Select(n => TestModels.RandomTokens(random, n, config.VocabSize)).ToArray();
        var firstTree = (Tokens: TestModels.RandomTokens(random, 3, config.VocabSize), Parents: new[] { -1, 0, 0 });
        // Steps of 3 rows (one tree), then 7 rows over three sequences (a tree on a pending tree, a chain, one token).
        var single = (Tokens: TestModels.RandomTokens(random, 3, config.VocabSize), Parents: new[] { -1, 0, 1 });
        var batch = new (int[] Tokens, int[] Parents)[]
        {
            (TestModels.RandomTokens(random, 3, config.VocabSize), new[] { 1, 3, 3 }),
            (TestModels.RandomTokens(random, 3, config.VocabSize), new[] { -1, 0, 1 }),
            (TestModels.RandomTokens(random, 1, config.VocabSize), new[] { -1 }),
        };
        Assert.Equal(8, model.PaddedRows(batch.Sum(b => b.Tokens.Length)));

        (Tensor[] Logits, KvCache[] Caches) Run(int multiple)
        {
            model.RowMultiple = multiple;
            var caches = prefixes.Select(_ => model.NewCache(48)).ToArray();
            // Prefills of 7 and 11 tokens (padded too) with the head on their last row only.
            for (int i = 0; i < caches.Length; i++)
                model.Forward(new[] { SequenceInput.Chain(caches[i], prefixes[i], lastLogitOnly: true) })[0].Dispose();
            model.Forward(new[] { new SequenceInput(caches[0], firstTree.Tokens, firstTree.Parents) })[0].Dispose();
            var first = model.Forward(new[] { new SequenceInput(caches[2], single.Tokens, single.Parents) });
            var second = model.Forward(batch.Select((b, i) => new SequenceInput(caches[i], b.Tokens, b.Parents)).ToArray());
            return (first.Concat(second).ToArray(), caches);
        }

        var (unpadded, plainCaches) = Run(1);
        var (padded, paddedCaches) = Run(4);
        try
        {
            Assert.Equal(unpadded.Length, padded.Length);
            for (int i = 0; i < unpadded.Length; i++)
            {
                Assert.Equal(unpadded[i].shape, padded[i].shape);
                for (int r = 0; r < unpadded[i].shape[0]; r++)
                    TestModels.AssertClose(TestModels.Row(unpadded[i], r), TestModels.Row(padded[i], r), Tolerance, $"output {i} row {r}");
            }
            for (int i = 0; i < plainCaches.Length; i++)
            {
                Assert.Equal(plainCaches[i].Length, paddedCaches[i].Length);
                Assert.Equal(plainCaches[i].PendingParents, paddedCaches[i].PendingParents);
                for (int l = 0; l < config.NumHiddenLayers; l++)
                {
                    var (k1, v1) = plainCaches[i].View(l, plainCaches[i].Length);
                    var (k2, v2) = paddedCaches[i].View(l, paddedCaches[i].Length);
                    Assert.True(k1.allclose(k2, rtol: 0, atol: Tolerance) && v1.allclose(v2, rtol: 0, atol: Tolerance), $"cache {i} layer {l}");
                }
            }
        }
        finally
        {
            foreach (var t in unpadded.Concat(padded)) t.Dispose();
            foreach (var c in plainCaches.Concat(paddedCaches)) c.Dispose();
        }
    }
}
