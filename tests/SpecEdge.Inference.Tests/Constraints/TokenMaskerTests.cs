using System.Text;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Tokenization;
using SpecEdge.Inference.Tests.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Constraints;

/// <summary>
/// The masker's three ways (stop ids when complete, the per-lexer-state table inside strings, the trie walk elsewhere)
/// give exactly the definition, checked token by token, on real 152k (Qwen3, byte-level) and 32k (Llama 2,
/// SentencePiece with byte fallback) vocabularies, at states of every kind along real documents.
/// </summary>
[Trait("Kind", "unit")]
public class TokenMaskerTests
{
    private const string Document = "{\"name\": \"caf\u00e9 \\\"x\\u00e9\", \"age\": -12, \"kind\": \"c d\", \"score\": 1.5e+3,\n\"tags\": [\"a\", \"\u65e5\u672c\"], \"note\": null, \"ok\": true}";

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama2")]
    public void Masks_EqualTheTokenByTokenDefinition_AtEveryKindOfState(string model)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        var stop = tokenizer.EosTokenIds;
        var vocabulary = TokenVocabulary.From(tokenizer, stop, tokenizer.VocabSize + 7);
        var masker = new TokenMasker(vocabulary);
        var bytes = Encoding.UTF8.GetBytes(Document);
        foreach (var grammar in new[] { JsonGrammar.FromSchema(JsonGrammarTests.Schemas[0]), JsonGrammar.AnyObject })
        {
            var state = grammar.Start();
            var states = new List<(int At, GrammarState State)> { (0, state) };
            for (int i = 0; i < bytes.Length; i++)
            {
                state = state.Advance(bytes[i]) ?? throw new Xunit.Sdk.XunitException($"byte {i} refused");
                states.Add((i + 1, state));
            }
            Assert.True(state.IsComplete);
            // Every state in the first 40 bytes (keys, strings, escapes, a split UTF-8 character, a number), then every 7th.
            foreach (var (at, s) in states.Where(x => x.At < 40 || x.At % 7 == 0 || x.At == bytes.Length))
            {
                var mask = masker.Compute(s);
                for (int t = 0; t < vocabulary.Size; t++)
                    if (TokenMasker.IsSet(mask, t) != masker.Allows(s, t))
                        throw new Xunit.Sdk.XunitException($"{model}, after {at} bytes ({Encoding.UTF8.GetString(bytes, 0, at)}): token {t} " +
                            $"({(vocabulary.Bytes(t) is { } b ? Convert.ToHexString(b) : "none")}) is {(TokenMasker.IsSet(mask, t) ? "allowed" : "refused")} by the mask.");
                Assert.True(TokenMasker.Count(mask) > 0, $"{model}: nothing allowed after {at} bytes");
            }
            // The complete document allows exactly the stop ids; the start allows no stop id.
            Assert.Equal(stop.Order(), Enumerable.Range(0, vocabulary.Size).Where(t => TokenMasker.IsSet(masker.Compute(state), t)));
            Assert.DoesNotContain(stop, t => TokenMasker.IsSet(masker.Compute(grammar.Start()), t));
        }
    }

    [Fact]
    public void BetweenParallelCalls_TheMaskAllowsTheStopIdsAndANextCall_AsTheDefinitionDoes()
    {
        var tokenizer = ReferenceTokenizers.Qwen3;
        var stop = tokenizer.EosTokenIds;
        var vocabulary = TokenVocabulary.From(tokenizer, stop, tokenizer.VocabSize);
        var masker = new TokenMasker(vocabulary);
        var grammar = JsonGrammar.ToolCall([("add", null)], ToolCallSyntax.ChatMl, maxCalls: 2);
        var afterOne = grammar.Start().Advance(Encoding.UTF8.GetBytes("<tool_call>\n{\"name\": \"add\", \"arguments\": {}}\n</tool_call>"))!;
        var mask = masker.Compute(afterOne);
        for (int t = 0; t < vocabulary.Size; t++)
            Assert.True(TokenMasker.IsSet(mask, t) == masker.Allows(afterOne, t), $"token {t}");
        Assert.All(stop, t => Assert.True(TokenMasker.IsSet(mask, t)));
        Assert.Contains(tokenizer.Encode("\n", parseSpecialTokens: false)[0], Enumerable.Range(0, vocabulary.Size).Where(t => TokenMasker.IsSet(mask, t)));
    }

    /// <summary>
    /// Llama 3.1 and Mistral V3 calls on their families' vocabularies (Llama 3's; Llama 2's SentencePiece one, which V3
    /// tokenizers extend): at every state of a forced call the mask is the definition, the reply can end only once the
    /// call (Mistral: its array) is closed, and then only with a stop id.
    /// </summary>
    [Theory]
    [InlineData("llama3", "Llama31", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": 2}}")]
    [InlineData("llama2", "MistralV3", "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"add\", \"arguments\": {}}]")]
    public void ForcedCalls_OfOtherFamilies_MaskAsTheDefinition(string model, string kind, string call)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        var stop = tokenizer.EosTokenIds;
        var vocabulary = TokenVocabulary.From(tokenizer, stop, tokenizer.VocabSize);
        var masker = new TokenMasker(vocabulary);
        var syntax = ToolCallSyntax.For(Enum.Parse<ChatFormatKind>(kind))!;
        var grammar = JsonGrammar.ToolCall([("get_weather", null), ("add", null)], syntax, syntax.Parallel ? 8 : 1);
        var bytes = Encoding.UTF8.GetBytes(call);
        var state = grammar.Start();
        for (int at = 0; at <= bytes.Length; at++)
        {
            if (at < 24 || at % 5 == 0 || at == bytes.Length)
            {
                var mask = masker.Compute(state);
                for (int t = 0; t < vocabulary.Size; t++)
                    if (TokenMasker.IsSet(mask, t) != masker.Allows(state, t))
                        throw new Xunit.Sdk.XunitException($"{model}, after {at} bytes: token {t} is {(TokenMasker.IsSet(mask, t) ? "allowed" : "refused")} by the mask.");
                Assert.Equal(at == bytes.Length, stop.All(t => TokenMasker.IsSet(mask, t)));
            }
            if (at < bytes.Length) state = state.Advance(bytes[at]) ?? throw new Xunit.Sdk.XunitException($"byte {at} refused");
        }
        Assert.True(state.IsComplete);
    }

    [Fact]
    public void CachedMasks_AreTheComputedOnes_AndEqualStatesShareThem()
    {
        var tokenizer = ReferenceTokenizers.Qwen3;
        var masker = new TokenMasker(TokenVocabulary.From(tokenizer, tokenizer.EosTokenIds, tokenizer.VocabSize), cacheCapacity: 4);
        var grammar = JsonGrammar.AnyObject;
        // Two different texts that end in the same state (inside a string value of an object one level deep).
        var a = grammar.Start().Advance("{\"k\": \"abc"u8)!;
        var b = grammar.Start().Advance("{\"other key\":\"xyz def"u8)!;
        Assert.Equal(a, b);
        Assert.Equal(masker.Compute(a), masker.Allowed(a));
        Assert.Same(masker.Allowed(a), masker.Allowed(b));
        Assert.Equal(1, masker.Misses);
        // Past its capacity the cache starts again rather than growing.
        foreach (var text in new[] { "{", "{\"", "{\"k\"", "{\"k\":", "{\"k\":1" })
            Assert.Equal(masker.Compute(grammar.Start().Advance(Encoding.UTF8.GetBytes(text))!), masker.Allowed(grammar.Start().Advance(Encoding.UTF8.GetBytes(text))!));
        Assert.Equal(masker.Compute(a), masker.Allowed(a));
    }
}
