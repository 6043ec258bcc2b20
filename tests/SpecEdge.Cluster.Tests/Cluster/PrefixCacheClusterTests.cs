using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Verification;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The cluster's set-up with a KV budget of 2 MB: eight of the test model's 256 KB caches (512 tokens), of which idle
/// ones make way for the prefix cache's quarter, so conversations are evicted after six.
/// </summary>
public sealed class PrefixCacheClusterFixture : ClusterFixture
{
    protected override void ConfigureModels(SpecEdgeSiloOptions options) => options.KvMemoryMb = 2;
}

/// <summary>
/// The verifier's prefix cache under memory pressure: a conversation evicted to admit others is rebuilt from the
/// blocks it left (the path a failover takes too: a reopen from the session's snapshot), its reply is target greedy,
/// and caches plus blocks stay within the KV budget.
/// </summary>
[Trait("Kind", "cluster")]
public class PrefixCacheClusterTests(PrefixCacheClusterFixture f) : IClassFixture<PrefixCacheClusterFixture>
{
    [Fact]
    public async Task AnEvictedConversation_IsRebuiltFromItsBlocks_WithinTheBudget_AndDecodesAsTheTargetDoes()
    {
        string silo = (await f.Client.GetGrain<ISessionGrain>("test/prefix-home").GetAsync()).Silo!;
        var verifier = f.Client.GetGrain<IVerifierBatchGrain>(silo + "|0");
        var random = new Random(31);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => random.Next(10, f.Models.VocabSize)).ToArray();
        var greedy = SessionTestHelpers.Greedy(6) with { Seed = 0 };

        async Task<int[]> ReplyAsync(string id, int[] committed)
        {
            var tokens = new List<int>();
            for (long step = 0; ; step++)
            {
                var verdict = await verifier.DecodeAsync(id, step);
                tokens.AddRange(verdict.AcceptedTokens);
                if (verdict.Finished) return tokens.ToArray();
            }
        }

        var prompt = Tokens(200);
        Assert.Equal(0, await verifier.OpenAsync("t/prefix-0", new SequenceSnapshot(prompt, prompt.Length, greedy, 0, true)));
        var reply = await ReplyAsync("t/prefix-0", prompt);
        Assert.Equal(f.ReferenceGreedy(prompt, 6), reply);

        // Eight more conversations, each finished: the oldest idle caches are evicted to admit them.
        var before = await verifier.GetStatsAsync();
        for (int i = 1; i <= 8; i++)
        {
            var other = Tokens(100);
            await verifier.OpenAsync($"t/prefix-{i}", new SequenceSnapshot(other, other.Length, greedy with { MaxNewTokens = 1 }, 0, true));
            await ReplyAsync($"t/prefix-{i}", other);
        }
        var after = await verifier.GetStatsAsync();
        Assert.True(after.Evictions > before.Evictions, "eight more conversations must have evicted idle caches");
        Assert.True(after.KvBytes + after.Prefixes!.Bytes <= 2L << 20, $"caches {after.KvBytes} + blocks {after.Prefixes.Bytes} exceed the budget");
        await Assert.ThrowsAsync<SessionNotLoadedException>(() => verifier.DecodeAsync("t/prefix-0", 1));

        // Its next turn, rebuilt from the session's snapshot: the blocks of everything it had computed come back
        // (all its tokens but the last, in whole blocks), and the new reply is the target's.
        var committed = prompt.Concat(reply).Concat(Tokens(9)).ToArray();
        int reused = await verifier.OpenAsync("t/prefix-0", new SequenceSnapshot(committed, committed.Length, greedy, 0, true));
        Assert.Equal((prompt.Length + reply.Length - 1) / 32 * 32, reused);
        Assert.Equal(f.ReferenceGreedy(committed, 6), await ReplyAsync("t/prefix-0", committed));

        // Another tenant's identical conversation reuses nothing.
        Assert.Equal(0, await verifier.OpenAsync("u/prefix-0", new SequenceSnapshot(committed, committed.Length, greedy, 0, true)));
        for (int i = 0; i <= 8; i++) await verifier.CloseAsync($"t/prefix-{i}");
        await verifier.CloseAsync("u/prefix-0");
    }
}
