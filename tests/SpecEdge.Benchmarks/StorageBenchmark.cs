using System.Diagnostics;
using System.Text.Json;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.Storage;
using Orleans.TestingHost;
using SpecEdge.Contracts;
using SpecEdge.Grains.Sessions;

namespace SpecEdge.Benchmarks;

/// <summary>
/// Per-write latency of session persistence on Azurite, the grain storage providers side by side in one run: each is
/// registered in one in-process silo the way the silo host registers it and resolved from that silo's services (so
/// each runs with the serializer and options a silo gives it). A decoding conversation is replayed: every step appends
/// a few tokens to <see cref="SessionState.Committed"/> and writes the whole state, as SessionGrain does per step.
/// Providers alternate per step (and which goes first alternates too) so machine load hits them alike.
/// </summary>
public static class StorageBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        int steps = o.Int("steps", 300);
        int conversations = o.Int("conversations", 4);
        int prompt = o.Int("prompt", 200);
        int tokensPerStep = o.Int("tokens-per-step", 3);
        string outPath = o.String("out", "bench-results/storage.json");

        using var azurite = new AzuriteFixture();
        string container = AzuriteFixture.NewContainerName("bench");
        var builder = new InProcessTestClusterBuilder(1);
        builder.ConfigureSilo((_, silo) => StorageProviders.Register(silo, azurite.ConnectionString, container));
        await using var cluster = builder.Build();
        await cluster.DeployAsync();
        var services = cluster.Silos[0].ServiceProvider;
        var providers = StorageProviders.Names.Select(n => (Name: n, Storage: services.GetRequiredKeyedService<IGrainStorage>(n))).ToArray();

        var samples = providers.ToDictionary(p => p.Name, _ => new List<double>());
        var firstWrites = providers.ToDictionary(p => p.Name, _ => new List<double>());
        var reads = providers.ToDictionary(p => p.Name, _ => new List<double>());
        int stateBytes = 0;
        for (int c = 0; c < conversations; c++)
        {
            var states = providers.ToDictionary(p => p.Name, _ => new GrainState<SessionState> { State = NewConversation(prompt) });
            var ids = providers.ToDictionary(p => p.Name, p => GrainId.Create("sessionbench", $"{p.Name}-{c}-{Guid.NewGuid():N}"));
            for (int step = 0; step <= steps; step++)
            {
                var order = (step + c) % 2 == 0 ? providers : providers.Reverse().ToArray();
                foreach (var (name, storage) in order)
                {
                    var state = states[name];
                    if (step > 0) Advance(state.State, tokensPerStep, step);
                    var clock = Stopwatch.StartNew();
                    await storage.WriteStateAsync("session", ids[name], state);
                    (step == 0 ? firstWrites : samples)[name].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
            foreach (var (name, storage) in providers)
            {
                var read = new GrainState<SessionState>();
                var clock = Stopwatch.StartNew();
                await storage.ReadStateAsync("session", ids[name], read);
                reads[name].Add(clock.Elapsed.TotalMilliseconds);
                if (read.State.Committed.Count != states[name].State.Committed.Count || read.State.Step != steps)
                    throw new InvalidOperationException($"{name}: read back {read.State.Committed.Count} tokens at step {read.State.Step}, wrote {states[name].State.Committed.Count} at step {steps}.");
            }
            stateBytes = JsonSerializer.SerializeToUtf8Bytes(states[providers[0].Name].State).Length;
        }

        var rows = providers.Select(p => new
        {
            provider = p.Name,
            writes = samples[p.Name].Count,
            p50 = Percentile(samples[p.Name], 0.50),
            p90 = Percentile(samples[p.Name], 0.90),
            p99 = Percentile(samples[p.Name], 0.99),
            mean = samples[p.Name].Average(),
            firstWriteP50 = Percentile(firstWrites[p.Name], 0.50),
            readP50 = Percentile(reads[p.Name], 0.50),
        }).ToArray();

        Console.WriteLine($"Session state writes on Azurite: {conversations} conversations x {steps} steps, prompt {prompt} tokens, +{tokensPerStep} tokens per step (final state ~{stateBytes / 1024.0:0.0} KB of JSON)");
        Console.WriteLine("| provider | writes | p50 ms | p90 ms | p99 ms | mean ms | first write p50 ms | read p50 ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
            Console.WriteLine($"| {r.provider} | {r.writes} | {r.p50:0.00} | {r.p90:0.00} | {r.p99:0.00} | {r.mean:0.00} | {r.firstWriteP50:0.00} | {r.readP50:0.00} |");

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new { steps, conversations, prompt, tokensPerStep, finalStateBytes = stateBytes, rows, loadAverage = File.ReadAllText("/proc/loadavg").Trim() },
            new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
    }

    private static SessionState NewConversation(int prompt) => new()
    {
        Messages = { new ChatTurn("user", new string('x', prompt * 3)) },
        Committed = Enumerable.Range(0, prompt).Select(i => i * 7 % 2048).ToList(),
        ReplyStart = prompt,
        Generating = true,
    };

    private static void Advance(SessionState state, int tokens, int step)
    {
        for (int i = 0; i < tokens; i++) state.Committed.Add((step * 31 + i) % 2048);
        state.ReplyChunkSizes.Add(tokens);
        state.Step = step;
    }

    private static double Percentile(List<double> values, double q)
    {
        var sorted = values.OrderBy(v => v).ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    }
}
