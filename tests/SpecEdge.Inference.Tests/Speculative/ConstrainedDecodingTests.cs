using System.Text;
using System.Text.Json;
using Json.Schema;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using Xunit;
using static SpecEdge.Inference.Tests.Speculative.SpeculativeTestModels;

namespace SpecEdge.Inference.Tests.Speculative;

/// <summary>
/// Constrained decoding is lossless with respect to the constrained target distribution: each emitted token is the
/// one the definition picks (the target's full-recompute row with every token the grammar refuses after the reply so
/// far set to -inf, the same position-keyed draw), and whole trees, proactive drafts and trees cut to any size emit
/// exactly what plain decoding does, whether the draft follows the grammar or knows nothing of it. Replies that end are
/// valid JSON for their schema.
/// </summary>
[Collection("speculative")]
[Trait("Kind", "unit")]
public class ConstrainedDecodingTests
{
    private const int Capacity = 256;
    private static readonly DraftTreeOptions Tree = new() { Budget = 10, MaxDepth = 4, MaxBeams = 5, BranchWidth = 3 };
    private const int Stop = 96;

    private const string Schema = """{"type":"object","properties":{"kind":{"enum":["a","b","tr"]},"n":{"type":"integer"},"ok":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"},"maxItems":2}},"required":["kind","n"],"additionalProperties":false}""";

    /// <summary>
    /// 97 tokens: every byte a JSON reply needs, multi-byte pieces (keys, literals, a two-byte character and its two
    /// halves, escapes), and the stop id 96.
    /// </summary>
    internal static TokenVocabulary Vocabulary()
    {
        var pieces = new List<byte[]>();
        foreach (char c in "{}[]\":, \n-.+E\\/0123456789abcdefghijklmnopqrstuvwxyz") pieces.Add([(byte)c]);
        foreach (var s in new[] { "{\"", "\"}", "\":", "\": ", "\",", ", \"", "true", "false", "null", "tr", "ue", "kind", "tags", "\"kind\"",
            "\"n\":", "ok", "[1", "]}", "}}", "\"]", "0.5", "-1", "12", "\\n", "\\u00", "41", "\"a\"", "\"b\"", "ab", "the", " x", "\n  ", "  ", "1,", "2}", "é", "日" })
            pieces.Add(Encoding.UTF8.GetBytes(s));
        pieces.Add([0xC3]);
        pieces.Add([0xA9]);
        while (pieces.Count < Stop) pieces.Add(Encoding.UTF8.GetBytes("q" + (char)('a' + pieces.Count % 26)));
        var bytes = pieces.Take(Stop).Cast<byte[]?>().Append(null).ToArray();
        return new TokenVocabulary(bytes, [Stop], Stop + 1);
    }

    private static GenerationRequest[] Requests(int vocab, SamplingParams sampling) =>
        SpeculativeTestModels.Requests(vocab, sampling, randomSeed: 9, seedBase: 31, promptBase: 5, promptStep: 3, new StopCriteria([Stop], MaxNewTokens: 64));

    // A random model left alone writes whitespace and strings until the token limit; a bias against whitespace and
    // towards '"' and '}' makes replies close, so their JSON is parsed too. The bias acts before the mask, as in the verifier.
    private static readonly Dictionary<int, double> Closing = Enumerable.Range(0, Stop)
        .Where(t => Vocabulary().Bytes(t)!.All(b => b is (byte)' ' or (byte)'\n')).ToDictionary(t => t, _ => -8.0)
        .Concat(new Dictionary<int, double> { [1] = 3, [4] = 3 }).ToDictionary();

    public static IEnumerable<object[]> Settings() => new[]
    {
        new object[] { "greedy-schema", SamplingParams.Greedy with { Grammar = JsonGrammar.FromSchema(Schema), LogitBias = Closing } },
        new object[] { "greedy-object", SamplingParams.Greedy with { Grammar = JsonGrammar.AnyObject, LogitBias = Closing } },
        new object[] { "t0.9-schema", new SamplingParams(0.9, TopP: 0.95) with { Grammar = JsonGrammar.FromSchema(Schema), LogitBias = Closing } },
        new object[] { "t1.2-object-penalised", new SamplingParams(1.2) with { Grammar = JsonGrammar.AnyObject, FrequencyPenalty = 0.5, LogitBias = Closing } },
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void EveryPath_EmitsWhatTheDefinitionPicks_FromTheMaskedLogits(string name, SamplingParams sampling)
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var vocabulary = Vocabulary();
        var masker = new TokenMasker(vocabulary);
        var verifier = new TargetVerifier(target) { Masker = masker };
        var requests = Requests(target.Config.VocabSize, sampling);
        var plain = AutoregressiveDecoder.Generate(verifier, requests, Capacity);

        int ended = 0;
        for (int i = 0; i < requests.Length; i++)
        {
            var prompt = requests[i].Prompt;
            var tokens = plain[i].Tokens;
            var logits = TestModels.FullLogits(target, prompt.Concat(tokens).ToArray());
            var state = sampling.Grammar!.Start();
            for (int j = 0; j < tokens.Length; j++)
            {
                var context = prompt.Concat(tokens.Take(j)).ToArray();
                var row = logits[prompt.Length - 1 + j];
                if (sampling.AdjustsLogits) row = Penalised(row, sampling, tokens.Take(j));
                var allowed = masker.Compute(state);
                var masked = row.Select((x, t) => TokenMasker.IsSet(allowed, t) ? x : float.NegativeInfinity).ToArray();
                Assert.True(TokenMasker.IsSet(allowed, tokens[j]), $"{name} #{i} token {j}: {tokens[j]} is not allowed by the grammar.");
                if (sampling.IsGreedy)
                    Assert.True(masked[tokens[j]] >= masked.Max() - 1e-4, $"{name} #{i} token {j}: {tokens[j]} at {masked[tokens[j]]}, max {masked.Max()}");
                else
                    Assert.Equal(Sampler.Sample(masked, requests[i].Sampling, new SampleRng(requests[i].Sampling.Seed).At(context.Length)), tokens[j]);
                if (tokens[j] != Stop) state = state.Advance(vocabulary.Bytes(tokens[j]))!;
            }
            if (plain[i].Finish == FinishReason.EndOfSequence)
            {
                ended++;
                var text = Encoding.UTF8.GetString(tokens[..^1].SelectMany(t => vocabulary.Bytes(t)!).ToArray());
                using var document = JsonDocument.Parse(text);
                if (sampling.Grammar.Schema is { } schema)
                    Assert.True(JsonSchema.FromText(schema).Evaluate(document.RootElement).IsValid, $"{name} #{i}: {text} does not match the schema.");
                else
                    Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
            }
        }
        Assert.True(ended > 0, $"{name}: no reply ended within the token limit, so none was parsed: " +
            string.Join(" | ", plain.Select(r => JsonSerializer.Serialize(Encoding.UTF8.GetString(r.Tokens.Where(t => t != Stop).SelectMany(t => vocabulary.Bytes(t)!).ToArray())) + " " + r.Finish)));

        void AssertSame(GenerationResult[] actual, string path)
        {
            for (int i = 0; i < requests.Length; i++) Assert.True(plain[i].Tokens.SequenceEqual(actual[i].Tokens), $"{name}, {path}: request {i} differs from plain decoding.");
        }
        foreach (var (path, actual) in EveryPath(verifier, draft, requests, Tree, Capacity, ("a draft that ignores the grammar", Tree with { DraftUnderGrammar = false }))) AssertSame(actual, path);
    }

    /// <summary>The frequency and presence penalties over this reply, then the bias (the adjustments the settings above use).</summary>
    private static float[] Penalised(float[] row, SamplingParams p, IEnumerable<int> reply)
    {
        var l = row.Select(x => (double)x).ToArray();
        foreach (var g in reply.GroupBy(t => t)) l[g.Key] -= p.FrequencyPenalty * g.Count() + p.PresencePenalty;
        foreach (var (t, b) in p.LogitBias ?? new Dictionary<int, double>()) l[t] += b;
        return l.Select(x => (float)x).ToArray();
    }

    [Fact]
    public void AMaskBudget_CutsTrees_WithoutChangingTheReply()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var vocabulary = Vocabulary();
        var requests = Requests(target.Config.VocabSize, SamplingParams.Greedy with { Grammar = JsonGrammar.FromSchema(Schema), LogitBias = Closing });
        var plain = AutoregressiveDecoder.Generate(new TargetVerifier(target) { Masker = new TokenMasker(vocabulary) }, requests, Capacity);
        int Forwards(int budget)
        {
            // A one-entry cache: nearly every node's state is new, as an adversarial tree's would be.
            var verifier = new TargetVerifier(target) { Masker = new TokenMasker(vocabulary, cacheCapacity: 1), MaxMaskComputationsPerItem = budget };
            var results = SpeculativeDecoder.Generate(verifier, draft, requests, Tree, Capacity);
            for (int i = 0; i < requests.Length; i++) Assert.True(plain[i].Tokens.SequenceEqual(results[i].Tokens), $"budget {budget}: request {i} differs from plain decoding.");
            return results.Sum(r => r.TargetForwards);
        }
        int unlimited = Forwards(int.MaxValue), none = Forwards(0), two = Forwards(2);
        // Cut trees confirm fewer tokens per forward: the budget bites, and costs only speed.
        Assert.True(none > unlimited, $"forwards: budget 0 {none}, unlimited {unlimited}");
        Assert.True(none >= two && two >= unlimited, $"forwards: budget 0 {none}, 2 {two}, unlimited {unlimited}");
    }

    [Fact]
    public void AnItemThatCannotBeConstrained_FailsAlone_AndTheBatchGoesOn()
    {
        var (target, draft) = Pair("qwen3", DraftKind.Perturbed);
        using var _ = target;
        using var __ = draft;
        var verifier = new TargetVerifier(target);     // no vocabulary: it cannot constrain
        var stop = new StopCriteria([Stop], MaxNewTokens: 5);
        using var constrained = verifier.Start([1, 2, 3], SamplingParams.Greedy with { Grammar = JsonGrammar.AnyObject }, stop, Capacity);
        using var free = verifier.Start([1, 2, 3], SamplingParams.Greedy, stop, Capacity);
        var results = verifier.Execute([new DecodeWork(constrained), new DecodeWork(free)]);
        Assert.Contains("no token vocabulary", results[0].Error!.Message);
        Assert.Equal(3, constrained.Committed.Count);
        Assert.Single(results[1].Verdict!.AcceptedTokens);
        Assert.Equal(4, free.Committed.Count);
    }
}
