using SpecEdge.Benchmarks;

// Usage: dotnet run --project tests/SpecEdge.Benchmarks -c Release -- <forward|spec> [options]
var command = args.FirstOrDefault() ?? "help";
var options = BenchOptions.Parse(args.Skip(1).ToArray());
switch (command)
{
    case "forward": ForwardBenchmark.Run(options); break;
    default:
        Console.WriteLine("""
            SpecEdge benchmarks (each prints a table and writes JSON):
              forward [--repeats 15] [--prefix 512] [--tree 32] [--batch 8] [--out bench-results/forward.json]
                  Forward time of a ~50M-parameter Qwen3-style model on CPU, fp32 and bf16.
            """);
        break;
}
