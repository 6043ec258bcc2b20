using System.Diagnostics;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Prefixes;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;
using static TorchSharp.torch;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What the device's prefix cache buys and costs, on a Qwen3-style model with random weights (d512, 10 layers, GQA 8/4,
/// vocabulary 32k, fp32 as the silo's default) on this machine, every ratio from runs interleaved in this one process:
/// (1) copy against gather: restoring a 1,024-token prefix into a sequence's cache once, against gathering shared
/// blocks into the attention input on every forward (what sharing blocks costs without a paged-attention kernel);
/// (2) time to first token (prefill plus the first decoding step) of a request whose 1,024-token prefix is cached, cold,
/// and when another tenant cached it; a regenerate and an edit of the last message of a 1,224-token conversation;
/// (3) KV memory of 32 conversations sharing a 1,024-token system prompt, with and without the cache;
/// (4) verifier throughput with the cache on and off when nothing is shared (every prompt distinct).
/// </summary>
public static class PrefixCacheBenchmark
{
    private const int Block = 32;

    public static void Run(BenchOptions o)
    {
        int repeats = o.Int("repeats", 3), threads = o.Int("threads", 0), prefixTokens = o.Int("prefix", 1024), capacity = o.Int("capacity", 2048);
        string outPath = o.String("out", "bench-results/prefix-cache.json");
        if (threads > 0) set_num_threads(threads);
        var config = RandomModels.Qwen3D512();
        string load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"prefix-cache: {get_num_threads()} intra-op thread(s), model qwen3 d{config.HiddenSize} x{config.NumHiddenLayers}, fp32; load before: {load}");
        using var weights = ModelWeights.Random(config, 1, ScalarType.Float32);
        using var model = new CausalLm(config, weights, ScalarType.Float32, CPU);
        var random = new Random(1);
        int[] Tokens(int n) => Enumerable.Range(0, n).Select(_ => random.Next(config.VocabSize)).ToArray();
        var stop = new StopCriteria(Array.Empty<int>(), 1);
        var result = new Dictionary<string, object> { ["benchmark"] = "prefix-cache", ["threads"] = get_num_threads(), ["repeats"] = repeats, ["load_before"] = load };
        var parts = o.String("parts", "copy,ttft,memory,throughput").Split(',').ToHashSet();

        // (1) Copy once against gather every forward.
        var prefix = Tokens(prefixTokens);
        if (parts.Contains("copy"))
        using (var prefixes = new PrefixCache(config, model.DType, model.Device, "bench", Block))
        {
            var verifier = new TargetVerifier(model) { Prefixes = prefixes };
            verifier.Start(prefix.Append(1).ToArray(), SamplingParams.Greedy, stop, capacity, PrefixScope.Of("a")).Dispose();
            var copy = new List<double>();
            var insert = new List<double>();
            var gather = new List<double>();
            var decode = new List<double>();
            using var cache = model.NewCache(capacity);
            for (int r = 0; r < repeats + 1; r++)
            {
                cache.Truncate(0);
                var clock = Stopwatch.StartNew();
                prefixes.Restore(cache, prefix.Append(1).ToArray(), prefixTokens, PrefixScope.Of("a"));
                if (r > 0) copy.Add(clock.Elapsed.TotalMilliseconds);
                // What keeping a prefix costs (hashing, allocating and filling its blocks): paid after every prefill and
                // reply, shared or not.
                using (var fresh = new PrefixCache(config, model.DType, model.Device, "bench", Block))
                {
                    clock.Restart();
                    fresh.Insert(cache, prefix, PrefixScope.Of("a"));
                    if (r > 0) insert.Add(clock.Elapsed.TotalMilliseconds);
                }
                // Sharing without a paged kernel: each forward concatenates the blocks of every layer's keys and values.
                clock.Restart();
                using (NewDisposeScope())
                    for (int l = 0; l < config.NumHiddenLayers; l++)
                    {
                        var (k, v) = cache.View(l, prefixTokens);
                        cat(Enumerable.Range(0, prefixTokens / Block).Select(b => k.narrow(1, b * Block, Block)).ToArray(), 1);
                        cat(Enumerable.Range(0, prefixTokens / Block).Select(b => v.narrow(1, b * Block, Block)).ToArray(), 1);
                    }
                if (r > 0) gather.Add(clock.Elapsed.TotalMilliseconds);
                clock.Restart();
                model.Forward(new[] { SequenceInput.Chain(cache, new[] { 1 }) })[0].Dispose();
                if (r > 0) decode.Add(clock.Elapsed.TotalMilliseconds);
            }
            result["copy_vs_gather"] = new Dictionary<string, object>
            {
                ["prefix_tokens"] = prefixTokens, ["copy_once_ms"] = Median(copy), ["insert_ms"] = Median(insert), ["gather_per_forward_ms"] = Median(gather),
                ["decode_forward_ms"] = Median(decode), ["gather_share_of_decode_forward"] = Math.Round(Median(gather) / Median(decode), 3),
            };
            Console.WriteLine($"\n(1) {prefixTokens}-token prefix: copy once {Median(copy):F2} ms (keeping it: {Median(insert):F2} ms); gather per forward {Median(gather):F2} ms = "
                + $"{Median(gather) / Median(decode):P0} of a one-token decoding forward ({Median(decode):F2} ms)");
        }

        // (2) Time to first token: prefill of what is not cached, then one decoding step.
        var userTurn = Tokens(32);
        var conversation = Tokens(prefixTokens + 200);
        var edited = conversation.Take(prefixTokens + 100).Concat(Tokens(100)).ToArray();
        var cases = new (string Name, int[] Seed, string SeedTenant, int[] Request)[]
        {
            ($"cached {prefixTokens}-token prefix, new {userTurn.Length}-token turn", prefix.Concat(Tokens(32)).ToArray(), "a", prefix.Concat(userTurn).ToArray()),
            ("the same prefix cached by another tenant", prefix.Concat(Tokens(32)).ToArray(), "b", prefix.Concat(userTurn).ToArray()),
            ($"regenerate a {conversation.Length}-token conversation", conversation, "a", conversation),
            ($"edit of its last message (last 100 tokens differ)", conversation, "a", edited),
        };
        var ttftRows = new List<Dictionary<string, object>>();
        if (parts.Contains("ttft")) Console.WriteLine("\n(2) time to first token\n| request | prompt | reused | cold ms | cached ms | cached / cold |\n|---|---:|---:|---:|---:|---:|");
        foreach (var (name, seed, seedTenant, request) in cases.Where(_ => parts.Contains("ttft")))
        {
            var cold = new List<double>();
            var warm = new List<double>();
            int reused = 0;
            for (int r = 0; r < repeats + 1; r++)
            {
                using var prefixes = new PrefixCache(config, model.DType, model.Device, "bench", Block);
                var cached = new TargetVerifier(model) { Prefixes = prefixes };
                cached.Start(seed, SamplingParams.Greedy, stop, capacity, PrefixScope.Of(seedTenant)).Dispose();
                // Alternate which goes first, so neither always runs right after the other's allocations.
                foreach (bool withCache in r % 2 == 0 ? new[] { false, true } : new[] { true, false })
                {
                    var verifier = withCache ? cached : new TargetVerifier(model);
                    long before = prefixes.ReusedTokens;
                    var clock = Stopwatch.StartNew();
                    using var sequence = verifier.Start(request, SamplingParams.Greedy, new StopCriteria(Array.Empty<int>(), 4), capacity, PrefixScope.Of("a"));
                    verifier.Execute(new[] { new DecodeWork(sequence) })[0].VerdictOrThrow();
                    double ms = clock.Elapsed.TotalMilliseconds;
                    if (withCache) reused = (int)(prefixes.ReusedTokens - before);
                    if (r > 0) (withCache ? warm : cold).Add(ms);
                }
            }
            double ratio = Median(warm) / Median(cold);
            ttftRows.Add(new() { ["request"] = name, ["prompt_tokens"] = request.Length, ["reused_tokens"] = reused, ["cold_ms"] = Median(cold), ["cached_ms"] = Median(warm), ["cached_over_cold"] = Math.Round(ratio, 3) });
            Console.WriteLine($"| {name} | {request.Length} | {reused} | {Median(cold):F1} | {Median(warm):F1} | {ratio:F3} |");
        }
        if (parts.Contains("ttft")) result["ttft"] = ttftRows;

        // (3) Memory of 32 conversations on one 1,024-token system prompt (caches preallocated at the context length).
        long perToken = 2L * config.NumHiddenLayers * config.NumKeyValueHeads * config.HeadDim * sizeof(float);
        long separate = 32 * perToken * capacity, blocks = prefixTokens / Block * Block * perToken;
        long pagedShared = 32 * perToken * (capacity - prefixTokens) + blocks;
        if (parts.Contains("memory")) result["memory_32_conversations"] = new Dictionary<string, object>
        {
            ["kv_bytes_per_token"] = perToken, ["context_tokens"] = capacity, ["separate_caches_bytes"] = separate,
            ["copied_prefix_bytes"] = separate + blocks, ["shared_blocks_bytes_if_paged"] = pagedShared,
        };
        if (parts.Contains("memory")) Console.WriteLine($"\n(3) 32 conversations sharing a {prefixTokens}-token system prompt, {capacity}-token caches: separate {separate / 1048576.0:F0} MiB; "
            + $"copied from the prefix cache {(separate + blocks) / 1048576.0:F0} MiB (+{blocks / 1048576.0:F0} MiB of blocks, once); "
            + $"shared blocks with paged attention would be {pagedShared / 1048576.0:F0} MiB");

        // (4) Throughput when nothing is shared: every cost of the cache (hashing, inserting blocks after each prefill and
        // reply) and none of its gain.
        int sequences = o.Int("sequences", 8), promptLength = o.Int("prompt", 256), replyLength = o.Int("reply", 32);
        var on = new List<double>();
        var off = new List<double>();
        for (int r = 0; r < repeats + 1 && parts.Contains("throughput"); r++)
            foreach (bool withCache in r % 2 == 0 ? new[] { false, true } : new[] { true, false })
            {
                using var prefixes = new PrefixCache(config, model.DType, model.Device, "bench", Block);
                var verifier = withCache ? new TargetVerifier(model) { Prefixes = prefixes } : new TargetVerifier(model);
                var prompts = Enumerable.Range(0, sequences).Select(_ => Tokens(promptLength)).ToArray();
                var clock = Stopwatch.StartNew();
                var live = prompts.Select(p => verifier.Start(p, SamplingParams.Greedy, new StopCriteria(Array.Empty<int>(), replyLength), capacity, PrefixScope.Of("t"))).ToArray();
                while (live.Any(s => !s.Finished))
                    verifier.Execute(live.Where(s => !s.Finished).Select(s => (TargetWork)new DecodeWork(s)).ToArray());
                double seconds = clock.Elapsed.TotalSeconds;
                foreach (var s in live) s.Dispose();
                if (r > 0) (withCache ? on : off).Add(sequences * (promptLength + replyLength) / seconds);
            }
        if (parts.Contains("throughput")) result["throughput_nothing_shared"] = new Dictionary<string, object>
        {
            ["sequences"] = sequences, ["prompt_tokens"] = promptLength, ["reply_tokens"] = replyLength,
            ["tokens_per_second_off"] = Median(off), ["tokens_per_second_on"] = Median(on), ["on_over_off"] = Math.Round(Median(on) / Median(off), 3),
        };
        if (parts.Contains("throughput")) Console.WriteLine($"\n(4) nothing shared, {sequences} x ({promptLength} prompt + {replyLength} reply) tokens: off {Median(off):F0} tokens/s, on {Median(on):F0} tokens/s, on/off {Median(on) / Median(off):F3}");

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(result, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }

    private static double Median(List<double> samples) => Math.Round(Percentile.Of(samples, 50), 2);
}
