using SpecEdge.Inference.Model;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Model;

[Trait("Kind", "unit")]
public class CausalLmTests
{
    private const double Tolerance = 2e-4;

    [Theory]
    [MemberData(nameof(TestModels.Variants), MemberType = typeof(TestModels))]
    public void IncrementalDecoding_EqualsFullForward(string type, bool tied, int kvHeads)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 1));
        var random = new Random(7);
        var tokens = TestModels.RandomTokens(random, 24, config.VocabSize);
        var full = TestModels.FullLogits(model, tokens);

        using var cache = model.NewCache(64);
        using (var prefill = model.Forward(new[] { SequenceInput.Chain(cache, tokens[..9]) })[0])
            for (int i = 0; i < 9; i++) TestModels.AssertClose(full[i], TestModels.Row(prefill, i), Tolerance, $"prefill row {i}");
        for (int i = 9; i < tokens.Length; i++)
        {
            using var step = model.Forward(new[] { SequenceInput.Chain(cache, new[] { tokens[i] }) })[0];
            TestModels.AssertClose(full[i], TestModels.Row(step, 0), Tolerance, $"step {i}");
        }
        Assert.Equal(tokens.Length, cache.Length);
    }

    [Theory]
    [MemberData(nameof(TestModels.Variants), MemberType = typeof(TestModels))]
    public void TreeForward_EachNodeEqualsForwardOfItsPath(string type, bool tied, int kvHeads)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 2));
        var random = new Random(11);
        var prefix = TestModels.RandomTokens(random, 10, config.VocabSize);
        var tokens = TestModels.RandomTokens(random, 14, config.VocabSize);
        var parents = TestModels.RandomParents(random, 14);

        using var cache = model.NewCache(64);
        model.Forward(new[] { SequenceInput.Chain(cache, prefix, lastLogitOnly: true) })[0].Dispose();
        using var logits = model.Forward(new[] { new SequenceInput(cache, tokens, parents) })[0];
        Assert.Equal(new long[] { 14, config.VocabSize }, logits.shape);
        for (int node = 0; node < tokens.Length; node++)
        {
            var path = TreeLayout.PathTo(parents, node).Select(i => tokens[i]);
            var expected = TestModels.FullLastLogits(model, prefix.Concat(path).ToList());
            TestModels.AssertClose(expected, TestModels.Row(logits, node), Tolerance, $"node {node}");
        }
    }

    [Theory]
    [MemberData(nameof(TestModels.Variants), MemberType = typeof(TestModels))]
    public void Batch_OfDifferentLengths_EqualsEachAlone(string type, bool tied, int kvHeads)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 3));
        var random = new Random(5);
        int[] prefixLengths = { 3, 17, 9, 1 };
        var prefixes = prefixLengths.Select(n => TestModels.RandomTokens(random, n, config.VocabSize)).ToArray();
        var trees = prefixLengths.Select((_, i) => (Tokens: TestModels.RandomTokens(random, 4 + 3 * i, config.VocabSize),
            Parents: TestModels.RandomParents(random, 4 + 3 * i))).ToArray();

        var batched = prefixes.Select(_ => model.NewCache(64)).ToArray();
        var alone = prefixes.Select(_ => model.NewCache(64)).ToArray();
        try
        {
            // Prefill as one batch of chains, then one batch of trees.
            var prefillBatch = model.Forward(prefixes.Select((p, i) => SequenceInput.Chain(batched[i], p)).ToArray());
            var treeBatch = model.Forward(trees.Select((t, i) => new SequenceInput(batched[i], t.Tokens, t.Parents)).ToArray());
            for (int i = 0; i < prefixes.Length; i++)
            {
                using var prefillAlone = model.Forward(new[] { SequenceInput.Chain(alone[i], prefixes[i]) })[0];
                using var treeAlone = model.Forward(new[] { new SequenceInput(alone[i], trees[i].Tokens, trees[i].Parents) })[0];
                for (int r = 0; r < prefixes[i].Length; r++)
                    TestModels.AssertClose(TestModels.Row(prefillAlone, r), TestModels.Row(prefillBatch[i], r), Tolerance, $"seq {i} prefill row {r}");
                for (int r = 0; r < trees[i].Tokens.Length; r++)
                    TestModels.AssertClose(TestModels.Row(treeAlone, r), TestModels.Row(treeBatch[i], r), Tolerance, $"seq {i} tree row {r}");
            }
            foreach (var t in prefillBatch.Concat(treeBatch)) t.Dispose();
        }
        finally
        {
            foreach (var c in batched.Concat(alone)) c.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(TestModels.Variants), MemberType = typeof(TestModels))]
    public void KeepPath_ThenContinue_EqualsFreshForwardOfAcceptedSequence(string type, bool tied, int kvHeads)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 4));
        var random = new Random(13);
        var prefix = TestModels.RandomTokens(random, 8, config.VocabSize);
        var tokens = TestModels.RandomTokens(random, 16, config.VocabSize);
        var parents = TestModels.RandomParents(random, 16);
        int deepest = Enumerable.Range(0, 16).OrderByDescending(i => TreeLayout.PathTo(parents, i).Length).First();
        var path = TreeLayout.PathTo(parents, deepest);
        var next = TestModels.RandomTokens(random, 3, config.VocabSize);

        using var cache = model.NewCache(64);
        model.Forward(new[] { SequenceInput.Chain(cache, prefix) })[0].Dispose();
        model.Forward(new[] { new SequenceInput(cache, tokens, parents) })[0].Dispose();
        cache.Compact(path);
        Assert.Equal(prefix.Length + path.Length, cache.Length);
        using var continued = model.Forward(new[] { SequenceInput.Chain(cache, next) })[0];

        var accepted = prefix.Concat(path.Select(i => tokens[i])).Concat(next).ToList();
        var full = TestModels.FullLogits(model, accepted);
        for (int i = 0; i < next.Length; i++)
            TestModels.AssertClose(full[accepted.Count - next.Length + i], TestModels.Row(continued, i), Tolerance, $"continuation {i}");
    }

    [Theory]
    [MemberData(nameof(TestModels.Variants), MemberType = typeof(TestModels))]
    public void TreeGrownOverSeveralForwards_EqualsForwardOfEachPath(string type, bool tied, int kvHeads)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 9));
        var random = new Random(17);
        var prefix = TestModels.RandomTokens(random, 6, config.VocabSize);
        var tokens = TestModels.RandomTokens(random, 15, config.VocabSize);
        var parents = TestModels.RandomParents(random, 15);

        using var cache = model.NewCache(64);
        model.Forward(new[] { SequenceInput.Chain(cache, prefix) })[0].Dispose();
        // Three rounds of 5 nodes, each hanging off nodes sent earlier, like a draft search expanding its best nodes.
        for (int round = 0; round < 3; round++)
        {
            var slice = Enumerable.Range(round * 5, 5).ToArray();
            using var logits = model.Forward(new[] { new SequenceInput(cache, slice.Select(i => tokens[i]).ToArray(), slice.Select(i => parents[i]).ToArray()) })[0];
            foreach (int node in slice)
            {
                var path = TreeLayout.PathTo(parents, node).Select(i => tokens[i]);
                TestModels.AssertClose(TestModels.FullLastLogits(model, prefix.Concat(path).ToList()), TestModels.Row(logits, node - round * 5), Tolerance, $"round {round} node {node}");
            }
        }
        Assert.Equal(15, cache.PendingCount);
        Assert.Equal(prefix.Length, cache.PrefixLength);
    }

    [Theory]
    [MemberData(nameof(TestModels.Variants), MemberType = typeof(TestModels))]
    public void CompactKeepingASubtree_RelocatesItsKeysAndValues(string type, bool tied, int kvHeads)
    {
        var config = TestModels.Config(type, tied, kvHeads);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 10));
        var random = new Random(19);
        var prefix = TestModels.RandomTokens(random, 5, config.VocabSize);
        // 0 -> 1 -> 2 is the path; 3, 4 are a dropped branch; 5 -> 6 and 5 -> 7 form a subtree under 2.
        var tokens = TestModels.RandomTokens(random, 8, config.VocabSize);
        var parents = new[] { -1, 0, 1, 0, 3, 2, 5, 5 };
        using var cache = model.NewCache(64);
        model.Forward(new[] { SequenceInput.Chain(cache, prefix) })[0].Dispose();
        model.Forward(new[] { new SequenceInput(cache, tokens, parents) })[0].Dispose();

        cache.Compact(path: new[] { 0, 1, 2 }, keep: new[] { 5, 6, 7 });
        Assert.Equal(prefix.Length + 3, cache.PrefixLength);
        Assert.Equal(new[] { -1, 0, 0 }, cache.PendingParents);

        // Continue under kept node 6 (now pending index 1): its key/value must still be the right ones.
        int next = random.Next(config.VocabSize);
        using var logits = model.Forward(new[] { new SequenceInput(cache, new[] { next }, new[] { 1 }) })[0];
        var sequence = prefix.Concat(new[] { tokens[0], tokens[1], tokens[2], tokens[5], tokens[6], next }).ToList();
        TestModels.AssertClose(TestModels.FullLastLogits(model, sequence), TestModels.Row(logits, 0), Tolerance, "under relocated subtree");
    }

    [Fact]
    public void ContextPastTheFirstRotaryTable_KeepsDecodingCorrectly()
    {
        // The rotary table starts at max_position_embeddings (512 here) and grows inside a forward that passes it; the
        // grown table once died with that forward's dispose scope, failing every later forward with "empty handle".
        var config = TestModels.Config("qwen3", tied: true);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 3));
        var tokens = TestModels.RandomTokens(new Random(11), 600, config.VocabSize);
        var full = TestModels.FullLogits(model, tokens);
        using var cache = model.NewCache(640);
        using (model.Forward(new[] { SequenceInput.Chain(cache, tokens[..590], lastLogitOnly: true) })[0]) { }
        for (int i = 590; i < tokens.Length; i++)
        {
            using var step = model.Forward(new[] { SequenceInput.Chain(cache, new[] { tokens[i] }) })[0];
            TestModels.AssertClose(full[i], TestModels.Row(step, 0), Tolerance, $"step {i}");
        }
    }

    [Fact]
    public void LastLogitOnly_ReturnsTheLastRowOfTheFullLogits()
    {
        var config = TestModels.Config("qwen3", tied: true);
        using var model = CausalLm.Load(TestModels.Write(config, seed: 5));
        var tokens = TestModels.RandomTokens(new Random(3), 12, config.VocabSize);
        using var cache = model.NewCache(32);
        using var last = model.Forward(new[] { SequenceInput.Chain(cache, tokens, lastLogitOnly: true) })[0];
        Assert.Equal(new long[] { 1, config.VocabSize }, last.shape);
        TestModels.AssertClose(TestModels.FullLastLogits(model, tokens), TestModels.Row(last, 0), Tolerance, "last row");
    }

    [Fact]
    public void BFloat16_StaysCloseToFloat32()
    {
        var config = TestModels.Config("llama", tied: false);
        string dir = TestModels.Write(config, seed: 6, std: 0.05);
        using var fp32 = CausalLm.Load(dir, "fp32");
        using var bf16 = CausalLm.Load(dir, "bf16");
        Assert.Equal(ScalarType.BFloat16, bf16.DType);
        var tokens = TestModels.RandomTokens(new Random(9), 10, config.VocabSize);
        using var c1 = fp32.NewCache(16);
        using var c2 = bf16.NewCache(16);
        using var a = fp32.Forward(new[] { SequenceInput.Chain(c1, tokens) })[0];
        using var b = bf16.Forward(new[] { SequenceInput.Chain(c2, tokens) })[0];
        Assert.Equal(ScalarType.Float32, b.dtype);
        TestModels.AssertClose(TestModels.Row(a, 9), TestModels.Row(b, 9), 0.05, "bf16 vs fp32");
    }
}
