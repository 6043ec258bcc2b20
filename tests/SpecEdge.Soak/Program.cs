using SpecEdge.Soak;

// Usage: dotnet run --project tests/SpecEdge.Soak -c Release -- [options]   (see the usage text below)
const string Known = "backends check draft early-verdicts edge-processes edge-sessions hostile-rate kill-edge kill-silo kv-mb max-new-tokens out seconds server-sessions target";
if (args is ["help" or "--help" or "-h", ..])
{
    Console.WriteLine("""
        SpecEdge.Soak [--seconds 90] [--edge-processes 2] [--edge-sessions 4] [--backends 2] [--server-sessions 2] [--hostile-rate 5]
                      [--max-new-tokens 24] [--kv-mb 512] [--kill-edge true] [--kill-silo true] [--early-verdicts true] [--check]
                      [--target models/demo/target] [--draft models/demo/draft] [--out bench-results/soak.json]
            Real processes (2 silos with keys and TLS, Redis membership, Azurite session state, edge-host processes over the
            edge gateway) under honest load, a hostile tenant in the second half, an edge kill and a silo kill; every honest
            reply is checked token by token against target-only greedy decoding. Prints a table and writes JSON; --check
            exits 1 on any lost, duplicated or differing token.
        """);
    return;
}
BenchOptions options;
try
{
    options = BenchOptions.Parse(args);
    options.CheckKnown(Known.Split(' '), "the soak");
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Environment.Exit(2);
    return;
}
Environment.ExitCode = await SoakBenchmark.RunAsync(options);
