using SpecEdge.GpuBench;

// Usage: SpecEdge.GpuBench <equivalence|forward> [--key value ...]; every command writes JSON under --out.
var command = args.FirstOrDefault() ?? "help";
var options = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
for (int i = 1; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = args[i + 1];
string Get(string key, string fallback) => options.TryGetValue(key, out var v) ? v : fallback;
switch (command)
{
    case "equivalence":
        return EquivalenceCheck.Run(Get("device", "cuda"), Get("out", "gpu-results"));
    case "forward":
        return WidthBenchmark.Run(Get("device", "cuda"), Get("dtype", "bf16"), Get("widths", "qwen3-1.7b,qwen3-8b"),
            Get("layers", "2,4").Split(',').Select(int.Parse).ToArray(), int.Parse(Get("prefix", "1024")),
            int.Parse(Get("repeats", "10")), double.Parse(Get("tokens-per-step", "2.64"), System.Globalization.CultureInfo.InvariantCulture),
            Get("out", "gpu-results"));
    default:
        Console.WriteLine("""
            SpecEdge.GpuBench equivalence [--device cuda] [--out gpu-results]
                Random test models: logits on the CPU vs on the device (fp32, max abs difference), and checkpoints plus our
                logits written for transformers_check.py.
            SpecEdge.GpuBench forward [--device cuda] [--dtype bf16] [--widths qwen3-1.7b,qwen3-8b] [--layers 2,4]
                                      [--prefix 1024] [--repeats 10] [--tokens-per-step 2.64] [--out gpu-results]
                Random weights at real widths with a few layers, scaled to the full layer count: 1 token vs 33-node verify,
                8 trees batched, and edge-assisted vs server-only throughput at the given acceptance.
            """);
        return command == "help" ? 0 : 2;
}
