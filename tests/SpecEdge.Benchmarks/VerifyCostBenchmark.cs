using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Sampling;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What a verify step costs on this machine by the shape of its trees: plain decoding, trees cut to their root, and
/// chains of 1..32 nodes for every sequence of a batch, plus uneven batches; median of many steps each. It shows the cost
/// structure goodput trimming models (a forward's fixed part, a price per token, a price for the mask once any input has
/// more than one token), and with <c>--draft-between true</c> what a co-located draft's forwards between the target's
/// cost the target (cache pollution an edge-assisted server does not have). With <c>--row-multiples 1,4</c> every shape
/// runs under each padding of the forward's rows (<see cref="CausalLm.RowMultiple"/>), interleaved step by step, so the
/// two are compared on the same machine state.
/// </summary>
public static class VerifyCostBenchmark
{
    public static void Run(BenchOptions o)
    {
        int[] batches = o.Ints("batches", new[] { 1, 4, 8 });
        int repeats = o.Int("repeats", 40), prefix = o.Int("prefix", 64);
        bool between = o.String("draft-between", "false") == "true";
        int[] multiples = o.Ints("row-multiples", new[] { 0 });
        string outPath = o.String("out", "bench-results/verify-cost.json");
        TorchSharp.torch.set_num_threads(o.Int("threads", 1));
        using var target = CausalLm.Load(o.String("target", "models/demo/target"), "float32");
        using var draft = CausalLm.Load(o.String("draft", "models/demo/draft"), "float32");
        using var draftCache = draft.NewCache(prefix + repeats * 64 + 16);
        var verifier = new TargetVerifier(target);
        var random = new Random(1);
        var shapes = new (string Name, Func<int, int> Nodes)[]
        {
            ("plain decode", _ => -1), ("root only", _ => 0), ("1 node", _ => 1), ("2 nodes", _ => 2), ("3 nodes", _ => 3), ("4 nodes", _ => 4), ("6 nodes", _ => 6),
            ("8 nodes", _ => 8), ("16 nodes", _ => 16), ("32 nodes", _ => 32),
            ("one tree of 4, rest plain", i => i == 0 ? 4 : -1), ("uneven 0-3", i => new[] { 1, 3, 1, 2, 2, 0, 1, 1 }[i % 8]),
        };
        var rows = new List<(int Batch, string Shape, int Tokens, int RowMultiple, double Ms)>();
        Console.WriteLine($"verify step cost, {Path.GetFileName(o.String("target", "models/demo/target"))} target, {TorchSharp.torch.get_num_threads()} thread(s), " +
            $"{prefix}-token prefixes, median of {repeats} steps{(between ? ", 4 draft forwards between steps" : "")}");
        foreach (int batch in batches)
            foreach (var (name, nodes) in shapes)
            {
                var sequences = Enumerable.Range(0, batch).Select(_ => verifier.Start(Enumerable.Range(0, prefix).Select(_ => random.Next(1000)).ToArray(),
                    SamplingParams.Greedy, new StopCriteria(new HashSet<int>(), 1 << 20), prefix + (repeats + 5) * 40 * multiples.Length)).ToList();
                try
                {
                    var ms = multiples.ToDictionary(m => m, _ => new List<double>());
                    int tokens = 0;
                    for (int r = 0; r < (repeats + 5) * multiples.Length; r++)
                    {
                        var work = sequences.Select((s, i) => nodes(i) < 0 ? (TargetWork)new DecodeWork(s) : new VerifyWork(s, new DraftMessage(s.Step, s.Committed.Count,
                            new[] { s.Committed[^1] }.Concat(Enumerable.Range(0, nodes(i)).Select(_ => random.Next(1000))).ToArray(),
                            Enumerable.Range(-1, nodes(i) + 1).ToArray()))).ToList();
                        tokens = ForwardShape.Of(work).Tokens;
                        if (between)
                            for (int d = 0; d < 4; d++)
                                foreach (var t in draft.Forward(new[] { SequenceInput.Chain(draftCache, Enumerable.Range(0, 8).Select(_ => random.Next(1000)).ToArray()) })) t.Dispose();
                        // Each padding in turn on the same step (a step commits, so each gets a step of its own).
                        int multiple = multiples[r % multiples.Length];
                        target.RowMultiple = multiple;
                        var clock = Stopwatch.StartNew();
                        verifier.Execute(work);
                        if (r >= 5) ms[multiple].Add(clock.Elapsed.TotalMilliseconds);
                        if (between) draftCache.Truncate(0);
                    }
                    foreach (var (multiple, list) in ms)
                    {
                        list.Sort();
                        rows.Add((batch, name, tokens, multiple, list[list.Count / 2]));
                    }
                }
                finally
                {
                    foreach (var s in sequences) s.Dispose();
                }
            }
        var table = new StringBuilder("| batch | trees | input tokens | rows padded to | ms per step |\n|---:|---|---:|---:|---:|\n");
        foreach (var r in rows)
        {
            target.RowMultiple = r.RowMultiple;
            table.Append(CultureInfo.InvariantCulture, $"| {r.Batch} | {r.Shape} | {r.Tokens} | {(r.RowMultiple == 0 ? "default" : r.RowMultiple == 1 ? "off" : r.RowMultiple.ToString())}: {target.PaddedRows(r.Tokens)} | {r.Ms:F2} |\n");
        }
        Console.WriteLine(table);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "verify-cost", date = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture), machine = $"{Environment.ProcessorCount} cores",
            draft_between = between, repeats, prefix, rows = rows.Select(r => new { batch = r.Batch, trees = r.Shape, tokens = r.Tokens, row_multiple = r.RowMultiple, ms = r.Ms }), table = table.ToString(),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }
}
