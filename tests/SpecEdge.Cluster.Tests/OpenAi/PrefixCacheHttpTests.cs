using SpecEdge.Contracts;
using Xunit;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// The device's prefix cache through the HTTP API of a real silo: a system prompt, a regenerated reply and an edited
/// last message reuse the blocks a conversation of the same tenant computed, <c>cached_tokens</c> says exactly how many
/// tokens that was, another tenant reuses nothing unless the prompt is declared public, and every reply stays equal to
/// target-only greedy decoding of its own prompt.
/// </summary>
[Collection(OpenAiCollection.Name)]
[Trait("Kind", "process")]
public class PrefixCacheHttpTests(OpenAiSiloFixture f)
{
    private const int Block = 32;   // SpecEdge:PrefixCacheBlockTokens (default)

    private static GenerationSettings Greedy(int maxTokens, string? system) => new() { Temperature = 0, MaxNewTokens = maxTokens, Seed = 0, SystemPrompt = system };

    private static object Chat(string? system, string user, int maxTokens) => new Dictionary<string, object>
    {
        ["model"] = OpenAiSiloFixture.Model, ["max_tokens"] = maxTokens, ["temperature"] = 0,
        ["messages"] = (system is null ? Array.Empty<object>() : new object[] { new { role = "system", content = system } })
            .Append(new { role = "user", content = user }).ToArray(),
    };

    /// <summary>Sends one new conversation; checks its reply against greedy decoding; returns its prompt and cached tokens.</summary>
    private async Task<(int[] Prompt, int Cached)> SendAsync(string key, string? system, string user)
    {
        var (status, body, session) = await f.PostAsync("/v1/chat/completions", Chat(system, user, 6), key);
        Assert.True(status == 200, body?.ToJsonString());
        var prompt = f.NewConversationPrompt(Greedy(6, system), Array.Empty<ChatTurn>(), user);
        Assert.Equal(prompt.Length, (int)body!["usage"]!["prompt_tokens"]!);
        Assert.Equal(f.ReferenceReply(prompt, Greedy(6, system)), await f.SessionReplyTokensAsync(session!));
        return (prompt, (int)body["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
    }

    /// <summary>Whole blocks of <paramref name="a"/> that <paramref name="b"/> shares, within a prefill of <paramref name="a"/> (all its tokens but the last).</summary>
    private static int SharedBlocks(int[] a, int[] b)
    {
        int n = 0;
        while (n < Math.Min(a.Length - 1, b.Length) && a[n] == b[n]) n++;
        return n / Block * Block;
    }

    private static string PrivatePrompt() =>
        $"Internal note {Guid.NewGuid():N}: you answer for the claims team. Quote the policy number, check the dates of cover, "
        + "and list what the customer must still send before anything is paid.";

    [Fact]
    public async Task ASystemPrompt_RegenerateAndAnEdit_ReuseTheTenantsBlocks_AndCachedTokensSaysHowMany()
    {
        string key = f.ServiceKey("prefix-a"), system = PrivatePrompt();
        var (first, cold) = await SendAsync(key, system, "My roof leaked in March.");
        Assert.Equal(0, cold);   // a system prompt nobody sent before

        // Another conversation on the same system prompt: the blocks of the system turn and as far as the tokens agree.
        var (second, cached) = await SendAsync(key, system, "Is hail damage covered?");
        Assert.True(SharedBlocks(second, first) >= 2 * Block, "the test's system prompt should span at least two blocks");
        Assert.Equal(SharedBlocks(second, first), cached);

        // Regenerate (the same messages again, a new conversation): the whole prompt but its last, unfinished block.
        var (again, regenerated) = await SendAsync(key, system, "Is hail damage covered?");
        Assert.Equal(SharedBlocks(again, second), regenerated);
        Assert.True(regenerated >= cached);

        // An edit of the last message: up to where the edit begins.
        var (edited, editCached) = await SendAsync(key, system, "Is hail damage to the car covered?");
        Assert.Equal(SharedBlocks(edited, again), editCached);
        Assert.True(editCached > 0);
    }

    [Fact]
    public async Task AnotherTenant_ReusesNothing_UnlessThePromptIsDeclaredPublic()
    {
        string system = PrivatePrompt();
        var (prompt, _) = await SendAsync(f.ServiceKey("prefix-owner"), system, "What is my excess?");
        // Same tenant: reused. Another tenant, the very same request: nothing (a faster reply would reveal the prompt).
        Assert.Equal(SharedBlocks(prompt, prompt), (await SendAsync(f.ServiceKey("prefix-owner"), system, "What is my excess?")).Cached);
        Assert.Equal(0, (await SendAsync(f.ServiceKey("prefix-other"), system, "What is my excess?")).Cached);

        // The operator's public prompt: shared across tenants, but only the blocks wholly inside it, never what a tenant
        // added after it.
        string user = $"Ticket {Guid.NewGuid():N}: when does the reading room open on Sundays?";
        var (publicPrompt, _) = await SendAsync(f.ServiceKey("prefix-reader"), OpenAiSiloFixture.PublicSystemPrompt, user);
        var systemTurn = f.NewConversationPrompt(Greedy(6, OpenAiSiloFixture.PublicSystemPrompt), Array.Empty<ChatTurn>(), "x");
        int publicEnd = 0;
        while (publicEnd < systemTurn.Length && systemTurn[publicEnd] == publicPrompt[publicEnd]) publicEnd++;
        int publicBlocks = publicEnd / Block * Block;
        Assert.True(publicBlocks >= Block, "the public prompt should span a block");
        Assert.True(SharedBlocks(publicPrompt, publicPrompt) > publicBlocks, "the test's request should reach past the public prompt's blocks");
        Assert.Equal(publicBlocks, (await SendAsync(f.ServiceKey("prefix-visitor"), OpenAiSiloFixture.PublicSystemPrompt, user)).Cached);
        Assert.Equal(SharedBlocks(publicPrompt, publicPrompt), (await SendAsync(f.ServiceKey("prefix-reader"), OpenAiSiloFixture.PublicSystemPrompt, user)).Cached);
    }
}
