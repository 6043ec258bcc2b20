using SpecEdge.Inference.Model;
using SpecEdge.Inference.Prefixes;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Prefixes;

/// <summary>
/// The device's prefix cache: what a restore copies is exactly what a prefill computed, outputs are the same with the
/// cache on and off, scopes never leak across tenants, and eviction keeps it within its capacity.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class PrefixCacheTests
{
    private const int Capacity = 256;
    private const int Block = 8;
    private static readonly StopCriteria Stop = new(Array.Empty<int>(), 24);

    private static PrefixCache NewCache(CausalLm model, long capacityBytes = long.MaxValue) =>
        new(model.Config, model.DType, model.Device, "test-target", Block, capacityBytes);

    [Fact]
    public void Restore_CopiesTheKeysAndValuesAPrefillComputed_ForTheLongestCachedPrefix()
    {
        var (target, _) = Pair("qwen3", DraftKind.Unrelated);
        using var __ = target;
        using var prefixes = NewCache(target);
        var verifier = new TargetVerifier(target) { Prefixes = prefixes };
        var prompt = TestModels.RandomTokens(new Random(3), 43, target.Config.VocabSize);
        using var first = verifier.Start(prompt, SamplingParams.Greedy, Stop, Capacity, PrefixScope.Of("a"));
        Assert.Equal(42 / Block, prefixes.Blocks);   // 42 tokens have KV: 5 whole blocks

        // Same first 41 tokens, then different: the 5 blocks (40 tokens) are reused, the rest is computed.
        var other = prompt.Take(41).Concat(new[] { 1, 2, 3, 4, 5, 6 }).ToArray();
        var sequence = new TargetSequence(target.NewCache(Capacity), other, other.Length, SamplingParams.Greedy, Stop) { PrefixScope = PrefixScope.Of("a") };
        using var ___ = sequence;
        var result = verifier.Execute(new[] { new PrefillWork(sequence) })[0];
        Assert.Equal(40, result.ReusedTokens);
        using var cold = new TargetVerifier(target).Start(other, SamplingParams.Greedy, Stop, Capacity);
        for (int l = 0; l < target.Config.NumHiddenLayers; l++)
        {
            var (restoredKeys, restoredValues) = sequence.Cache.View(l, 40);
            var (firstKeys, firstValues) = first.Cache.View(l, 40);
            Assert.True(restoredKeys.eq(firstKeys).all().item<bool>() && restoredValues.eq(firstValues).all().item<bool>(), $"layer {l}: not a copy");
            // And what a prefill from scratch computes for all of it (to rounding: it ran in other chunk sizes).
            var (k, v) = sequence.Cache.View(l, other.Length - 1);
            var (coldK, coldV) = cold.Cache.View(l, other.Length - 1);
            Assert.True(k.allclose(coldK, rtol: 1e-4, atol: 1e-5) && v.allclose(coldV, rtol: 1e-4, atol: 1e-5), $"layer {l}: differs from a cold prefill");
        }
    }

    [Fact]
    public void Restore_ContinuesAnExistingPrefix_FromInsideABlock()
    {
        var (target, _) = Pair("qwen3", DraftKind.Unrelated);
        using var __ = target;
        using var prefixes = NewCache(target);
        var verifier = new TargetVerifier(target) { Prefixes = prefixes };
        var prompt = TestModels.RandomTokens(new Random(4), 60, target.Config.VocabSize);
        using var first = verifier.Start(prompt, SamplingParams.Greedy, Stop, Capacity, PrefixScope.Of("a"));

        // A conversation whose first turn (13 tokens, mid-block) is computed, then its next turn starts: the cache
        // continues from slot 12 with blocks 1..6 of the same history (slots 12..55) instead of computing them.
        using var second = verifier.Start(prompt[..13], SamplingParams.Greedy, Stop, Capacity, PrefixScope.Of("a"));
        second.StartTurn(prompt[13..], Stop);
        var result = verifier.Execute(new[] { new PrefillWork(second) })[0];
        Assert.Equal(56, result.ReusedTokens);   // 12 held + 44 restored; slots 56..58 computed
        Assert.Equal(59, second.Cache.PrefixLength);
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), new[] { new GenerationRequest(prompt, SamplingParams.Greedy, Stop) }, Capacity);
        Assert.Equal(expected[0].Tokens, Decode(verifier, second));
    }

    public static IEnumerable<object[]> Samplings() =>
    [
        [SamplingParams.Greedy],
        [new SamplingParams(Temperature: 0.9, TopP: 0.95)],
    ];

    [Theory]
    [MemberData(nameof(Samplings))]
    public void OutputsAreTheSame_WithTheCacheOnAndOff_ForTreesOfSequencesSharingAPrefix(SamplingParams sampling)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        var random = new Random(5);
        var system = TestModels.RandomTokens(random, 37, target.Config.VocabSize);
        // Four conversations on one system prompt, one of them sent twice (a regenerate), each with its own seed.
        var suffixes = Enumerable.Range(0, 3).Select(i => TestModels.RandomTokens(random, 3 + 5 * i, target.Config.VocabSize)).ToList();
        suffixes.Add(suffixes[1]);
        var requests = suffixes.Select((s, i) => new GenerationRequest(system.Concat(s).ToArray(), sampling with { Seed = 40 + (ulong)(i % 3) }, Stop)).ToArray();
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), requests, Capacity);

        using var prefixes = NewCache(target);
        var verifier = new TargetVerifier(target) { Prefixes = prefixes };
        // The first conversation runs alone and leaves the system prompt's blocks; the rest open together and verify
        // their trees in shared batches.
        var sequences = new TargetSequence[requests.Length];
        var reused = new int[requests.Length];
        try
        {
            sequences[0] = verifier.Start(requests[0].Prompt, requests[0].Sampling, Stop, Capacity, PrefixScope.Of("t"));
            for (int i = 1; i < requests.Length; i++)
                sequences[i] = new TargetSequence(target.NewCache(Capacity), requests[i].Prompt, requests[i].Prompt.Length, requests[i].Sampling, Stop) { PrefixScope = PrefixScope.Of("t") };
            var opened = verifier.Execute(sequences[1..3].Select(s => (TargetWork)new PrefillWork(s)).ToArray());
            reused[1] = opened[0].ReusedTokens;
            reused[2] = opened[1].ReusedTokens;
            reused[3] = verifier.Execute(new[] { new PrefillWork(sequences[3]) })[0].ReusedTokens;
            Assert.All(reused[1..], r => Assert.True(r >= 32, $"reused only {r} tokens of the 37-token system prompt"));
            Assert.True(reused[3] > reused[1], "the regenerated conversation reuses only the system prompt");
            var outputs = DecodeWithTrees(verifier, draft, sequences);
            for (int i = 0; i < requests.Length; i++) Assert.Equal(expected[i].Tokens, outputs[i]);
        }
        finally
        {
            foreach (var s in sequences) s?.Dispose();
        }
    }

    [Fact]
    public void Tenants_NeverReuseEachOthersBlocks_ExceptInsideADeclaredPublicPrefix()
    {
        var (target, _) = Pair("qwen3", DraftKind.Unrelated);
        using var __ = target;
        var random = new Random(6);
        var published = TestModels.RandomTokens(random, 20, target.Config.VocabSize);
        var prompt = published.Concat(TestModels.RandomTokens(random, 30, target.Config.VocabSize)).ToArray();
        var shared = new PublicPrefixes(new[] { published });

        foreach (bool declared in new[] { false, true })
        {
            using var prefixes = NewCache(target);
            var verifier = new TargetVerifier(target) { Prefixes = prefixes };
            var publicPrefixes = declared ? shared : PublicPrefixes.None;
            using var a = verifier.Start(prompt, SamplingParams.Greedy, Stop, Capacity, new PrefixScope("a", publicPrefixes));
            int ReuseFor(string tenant)
            {
                using var s = new TargetSequence(target.NewCache(Capacity), prompt, prompt.Length, SamplingParams.Greedy, Stop) { PrefixScope = new PrefixScope(tenant, publicPrefixes) };
                return verifier.Execute(new[] { new PrefillWork(s) })[0].ReusedTokens;
            }
            Assert.Equal(48, ReuseFor("a"));
            // Another tenant: nothing, or only the blocks wholly inside the published prefix (2 of 8 tokens: 16).
            Assert.Equal(declared ? 16 : 0, ReuseFor("b"));
            // A tenant named like a tag cannot reach the public blocks' key space either.
            Assert.Equal(declared ? 16 : 0, ReuseFor("public"));
        }
    }

    [Fact]
    public void Eviction_StaysWithinCapacity_LeastRecentlyUsedFirst()
    {
        var (target, _) = Pair("qwen3", DraftKind.Unrelated);
        using var __ = target;
        using var probe = NewCache(target);
        using var prefixes = NewCache(target, capacityBytes: 6 * probe.BlockBytes);
        var verifier = new TargetVerifier(target) { Prefixes = prefixes };
        var random = new Random(7);
        var prompts = Enumerable.Range(0, 3).Select(_ => TestModels.RandomTokens(random, 25, target.Config.VocabSize)).ToArray();   // 3 blocks each
        int ReuseOf(int[] prompt)
        {
            using var s = new TargetSequence(target.NewCache(Capacity), prompt, prompt.Length, SamplingParams.Greedy, Stop) { PrefixScope = PrefixScope.Of("t") };
            return verifier.Execute(new[] { new PrefillWork(s) })[0].ReusedTokens;
        }
        verifier.Start(prompts[0], SamplingParams.Greedy, Stop, Capacity, PrefixScope.Of("t")).Dispose();
        verifier.Start(prompts[1], SamplingParams.Greedy, Stop, Capacity, PrefixScope.Of("t")).Dispose();
        Assert.Equal(6, prefixes.Blocks);
        Assert.Equal(24, ReuseOf(prompts[0]));            // prompt 0 is now the most recently used
        verifier.Start(prompts[2], SamplingParams.Greedy, Stop, Capacity, PrefixScope.Of("t")).Dispose();
        Assert.True(prefixes.Bytes <= prefixes.CapacityBytes);
        Assert.Equal(24, ReuseOf(prompts[0]));
        Assert.Equal(24, ReuseOf(prompts[2]));
        Assert.Equal(0, ReuseOf(prompts[1]));             // the least recently used went (and now comes back, in prompt 0's place)
        Assert.Equal(24, ReuseOf(prompts[1]));
        Assert.Equal(0, ReuseOf(prompts[0]));

        // The owner lowers the capacity (its KV budget filled up): blocks go at the next use, the deepest first.
        prefixes.CapacityBytes = 2 * prefixes.BlockBytes;
        Assert.Equal(4, prefixes.Trim());
        Assert.Equal(16, ReuseOf(prompts[0]));            // the 2 most recent: prompt 0's first blocks
        prefixes.CapacityBytes = 0;
        Assert.Equal(0, ReuseOf(prompts[0]));
        Assert.Equal(0, prefixes.Blocks);
    }

    [Fact]
    public void ADrafter_ReusesTheDraftKvOfAnotherConversationsPrefix_AndOutputsStayTheTargets()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var __ = target;
        using var ___ = draft;
        var random = new Random(8);
        var system = TestModels.RandomTokens(random, 45, target.Config.VocabSize);
        var prompts = Enumerable.Range(0, 2).Select(i => system.Concat(TestModels.RandomTokens(random, 6 + i, target.Config.VocabSize)).ToArray()).ToArray();
        var expected = AutoregressiveDecoder.Generate(new TargetVerifier(target), prompts.Select(p => new GenerationRequest(p, SamplingParams.Greedy, Stop)).ToArray(), Capacity);

        using var draftPrefixes = NewCache(draft);
        var verifier = new TargetVerifier(target);
        var options = new DraftTreeOptions { Budget = 8 };
        var reused = new int[2];
        for (int i = 0; i < 2; i++)
        {
            using var sequence = verifier.Start(prompts[i], SamplingParams.Greedy, Stop, Capacity);
            using var drafter = new TreeDrafter(draft, prompts[i], options, Capacity);
            reused[i] = drafter.ReuseCachedPrefix(draftPrefixes, PrefixScope.Of("t"));
            bool kept = false;
            while (!sequence.Finished)
            {
                var tree = drafter.BuildTree();
                drafter.ApplyVerdict(verifier.Execute(new[] { new VerifyWork(sequence, tree) })[0].VerdictOrThrow());
                // After the first verdict the prompt's draft KV exists: kept for the next conversation.
                if (!kept) kept = draftPrefixes.Insert(drafter.Cache, drafter.Committed, PrefixScope.Of("t")) > 0;
            }
            Assert.Equal(expected[i].Tokens, sequence.Generated);
        }
        Assert.Equal(0, reused[0]);
        Assert.Equal(40, reused[1]);   // the system prompt's 5 whole blocks
        using var otherTenant = new TreeDrafter(draft, prompts[1], options, Capacity);
        Assert.Equal(0, otherTenant.ReuseCachedPrefix(draftPrefixes, PrefixScope.Of("u")));
    }

    private static int[] Decode(TargetVerifier verifier, TargetSequence sequence)
    {
        while (!sequence.Finished) verifier.Execute(new[] { new DecodeWork(sequence) })[0].VerdictOrThrow();
        return sequence.Generated.ToArray();
    }

    /// <summary>Every sequence steps with its own draft's trees, all verified in one forward per round.</summary>
    private static int[][] DecodeWithTrees(TargetVerifier verifier, CausalLm draft, TargetSequence[] sequences)
    {
        var drafters = sequences.Select(s => new TreeDrafter(draft, s.Committed, new DraftTreeOptions { Budget = 8, GreedyVerification = s.Sampling.IsGreedy }, Capacity)).ToArray();
        try
        {
            while (sequences.Any(s => !s.Finished))
            {
                var live = Enumerable.Range(0, sequences.Length).Where(i => !sequences[i].Finished).ToArray();
                var trees = live.Select(i => drafters[i].BuildTree()).ToArray();
                var results = verifier.Execute(live.Select((i, k) => (TargetWork)new VerifyWork(sequences[i], trees[k])).ToArray());
                for (int k = 0; k < live.Length; k++) drafters[live[k]].ApplyVerdict(results[k].VerdictOrThrow());
            }
            return sequences.Select(s => s.Generated.ToArray()).ToArray();
        }
        finally
        {
            foreach (var d in drafters) d.Dispose();
        }
    }
}
