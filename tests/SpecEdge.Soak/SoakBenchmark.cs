using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Verification;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Soak;

/// <summary>
/// Soak and chaos through real processes: two silos (Redis membership, Azurite session state), edge-host processes
/// each running many honest edge sessions, backend chats and streaming server-only sessions from this process, and
/// in the second half a hostile tenant over HTTP and the edge gateway (<see cref="HostileTenant"/>); one edge process is killed (and restarted) and one silo is killed. At the end
/// every honest conversation is checked token by token against the target's own greedy decoding, and every streamed
/// reply against what was committed. Prints a table, writes JSON; with <c>--check</c> exits 1 on any loss, duplicate
/// or difference.
/// </summary>
public static class SoakBenchmark
{
    private static IReadOnlyList<string> Prompts => SoakPrompts.All;

    public static async Task<int> RunAsync(BenchOptions o)
    {
        string root = ProcessCluster.RepoRoot();
        string target = Path.GetFullPath(Path.Combine(root, o.String("target", "models/demo/target")));
        string draft = Path.GetFullPath(Path.Combine(root, o.String("draft", "models/demo/draft")));
        int seconds = o.Int("seconds", 90), edgeProcesses = o.Int("edge-processes", 2), edgeSessions = o.Int("edge-sessions", 4);
        int backends = o.Int("backends", 2), streams = o.Int("server-sessions", 2), maxNew = o.Int("max-new-tokens", 24), kvMb = o.Int("kv-mb", 512);
        double hostileRate = o.Double("hostile-rate", 5);
        // One of the two silos sends early verdicts (its verifier splits at the demo target's exit head), so the lossless check
        // covers edges drafting ahead on them, through kills and hostile load, beside a silo that does not.
        bool earlyVerdicts = o.String("early-verdicts", "true") == "true";
        bool killEdge = o.String("kill-edge", "true") == "true", killSilo = o.String("kill-silo", "true") == "true", check = o.String("check", "false") == "true";
        string outPath = o.String("out", "bench-results/soak.json");
        TorchSharp.torch.set_num_threads(1);

        Console.WriteLine($"soak: {seconds}s, {edgeProcesses} edge processes x {edgeSessions} sessions, {backends} backend chats, {streams} streaming server sessions, hostile {hostileRate}/s in the second half, kv budget {kvMb} MB{(earlyVerdicts ? ", early verdicts from silo-b" : "")}");
        using var cluster = new ProcessCluster(root, target, draft, kvMb, maxNew, edgeSessions);
        await cluster.StartSiloAsync("silo-a");
        await cluster.StartSiloAsync("silo-b", null, earlyVerdicts ? new[] { "--SpecEdge:EarlyVerdicts", "true" } : Array.Empty<string>());
        using var host = await cluster.ConnectAsync();
        var client = host.Services.GetRequiredService<IClusterClient>();
        for (int p = 0; p < edgeProcesses; p++) cluster.StartEdge($"e{p}");

        var clock = Stopwatch.StartNew();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var report = new SoakReport();
        var honest = new HashSet<string>();
        string? RandomHonest() { lock (honest) return honest.Count == 0 ? null : honest.ElementAt(Random.Shared.Next(honest.Count)); }
        using var models = new ModelHost(Options.Create(new SpecEdgeSiloOptions { TargetModel = target }), NullLogger<ModelHost>.Instance);
        // The hostile tenant comes in as untrusted callers do, over HTTP and the edge gateway of silo-a (never killed).
        using var hostile = new HostileTenant($"http://127.0.0.1:{cluster.HttpPorts["silo-a"]}", $"https://127.0.0.1:{cluster.EdgeGateways["silo-a"]}",
            cluster.ClientTls("mallory-pc"), cluster.ServiceToken(HostileTenant.Tenant), Path.GetFileName(target.TrimEnd('/')), RandomHonest, models.VocabSize);

        double hostileFrom = seconds / 2.0;
        var loops = new List<Task>();
        // Backend services act for the honest tenant (service credential), so the quota and tenant scoping are live.
        string service = cluster.ServiceToken(ProcessCluster.Tenant), tenant = AccessCredential.TenantPrefix(ProcessCluster.Tenant);
        for (int k = 0; k < backends; k++) loops.Add(BackendLoopAsync(client, service, $"{tenant}backend-{k}", maxNew, honest, report, stop.Token));
        for (int k = 0; k < streams; k++) loops.Add(StreamLoopAsync(client, service, $"{tenant}stream-{k}", maxNew, honest, report, stop.Token));
        loops.Add(Task.Run(async () =>
        {
            try { await Task.Delay(TimeSpan.FromSeconds(hostileFrom), stop.Token); } catch (OperationCanceledException) { return; }
            await hostile.RunAsync(hostileRate, stop.Token);
        }));
        loops.Add(ChaosAsync(cluster, client, seconds, killEdge, killSilo, report, stop.Token));
        loops.Add(SampleMemoryAsync(cluster, client, report, stop.Token));
        await Task.WhenAll(loops);

        // Wind down: edges go (their replies finish on the server after the lease), then wait until nobody is generating.
        foreach (var e in cluster.Edges.Values) e.Kill();
        foreach (var line in cluster.EdgeLines) Collect(line, honest, report, hostileFrom, clock);
        var wind = Stopwatch.StartNew();
        var ids = honest.ToArray();
        while (wind.Elapsed < TimeSpan.FromSeconds(90))
        {
            bool busy = false;
            foreach (var id in ids) busy |= await Try(() => client.GetGrain<ISessionGrain>(id).GetAsync()) is { Generating: true } or null;
            if (!busy) break;
            await Task.Delay(1000);
        }

        // Verify every honest conversation against the target's greedy decoding, turn by turn.
        var header = models.Tokenizer.Encode("<|im_start|>assistant\n");
        int endOfTurn = models.Tokenizer.TokenToId("<|im_end|>") ?? -1;
        var verifier = new TargetVerifier(models.Target(0));
        foreach (var id in ids)
        {
            int[]? committed = null;
            bool generating = false;
            bool[] answered = Array.Empty<bool>();
            try { (committed, generating, answered) = await ReadCommittedAsync(client, id); }
            catch (Exception e) { report.Examples.Add($"{id} unreadable: {e.GetType().Name}: {e.Message}"); }
            if (committed is null) { report.Unreadable++; continue; }
            var starts = Enumerable.Range(header.Length, Math.Max(0, committed.Length - header.Length + 1))
                .Where(end => committed.AsSpan(end - header.Length, header.Length).SequenceEqual(header)).ToArray();
            for (int t = 0; t < starts.Length; t++)
            {
                int start = starts[t];
                var expected = AutoregressiveDecoder.Generate(verifier, new[] { new GenerationRequest(committed[..start], Inference.Sampling.SamplingParams.Greedy,
                    models.StopCriteria(maxNew, Array.Empty<string>())) }, capacity: 4096)[0].Tokens;
                int end = t + 1 < starts.Length ? Math.Min(start + expected.Length, committed.Length) : committed.Length;
                var actual = committed[start..end];
                report.TokensCommitted += actual.Length;
                bool unfinished = generating && t == starts.Length - 1;
                if (!unfinished && answered.Length == starts.Length && !answered[t])
                {
                    // The reply ended with an error (e.g. refused for capacity while being rebuilt): no assistant message.
                    // What it committed must be a prefix of greedy, up to the end-of-turn the next turn closed it with.
                    int cut = Array.IndexOf(committed, endOfTurn, start, end - start);
                    var partial = committed[start..(cut < 0 ? end : cut)];
                    report.EndedByError++;
                    if (partial.Length >= expected.Length || !expected.Take(partial.Length).SequenceEqual(partial))
                    {
                        report.Differing++;
                        report.Examples.Add($"{id} turn {t} (ended by an error): its {partial.Length} tokens are not a prefix of greedy");
                    }
                    continue;
                }
                if (unfinished)
                {
                    // Still being generated when the run ended (a saturated machine): what exists must be a prefix.
                    report.Unfinished++;
                    if (!expected.Take(actual.Length).SequenceEqual(actual))
                    {
                        report.Differing++;
                        report.Examples.Add($"{id} turn {t} (unfinished): its {actual.Length} tokens are not a prefix of greedy");
                    }
                    continue;
                }
                report.Replies++;
                if (!actual.SequenceEqual(expected))
                {
                    report.Differing++;
                    report.Examples.Add($"{id} turn {t}: expected {expected.Length} tokens, got {actual.Length}");
                }
            }
            if (report.Streamed.TryGetValue(id, out var streamedReplies)) CompareStreams(id, committed, starts, streamedReplies, report);
        }
        report.HostileRequests = hostile.Requests;
        report.HostilePerSecond = hostile.Requests / Math.Max(1, seconds - hostileFrom);
        report.HostileOutcomes = hostile.Outcomes;
        report.Seconds = clock.Elapsed.TotalSeconds;
        report.KvBudgetBytes = (long)kvMb << 20;
        report.Print();
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
        string logs = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, "soak-logs");
        cluster.SaveLogs(logs);
        Console.WriteLine($"wrote {outPath}; process logs in {logs}");
        await host.StopAsync();
        bool clean = report.Lost == 0 && report.Duplicated == 0 && report.Differing == 0 && report.Unreadable == 0 && report.Replies > 0;
        return check && !clean ? 1 : 0;
    }

    /// <summary>The driver's own client: an operator (statistics, reading every conversation at the end).</summary>
    /// <summary>A backend service: multi-turn chats through <c>ChatAsync</c>, a new conversation every three turns.</summary>
    private static async Task BackendLoopAsync(IClusterClient client, string credential, string prefix, int maxNew, HashSet<string> honest, SoakReport report, CancellationToken stop)
    {
        using var asService = CallerCredential.Use(credential);
        for (int generation = 0; !stop.IsCancellationRequested; generation++)
        {
            string id = $"{prefix}-{generation}";
            lock (honest) honest.Add(id);
            var session = client.GetGrain<ISessionGrain>(id);
            for (int turn = 0; turn < 3 && !stop.IsCancellationRequested; turn++)
            {
                try
                {
                    var snapshot = await session.GetAsync();
                    if (snapshot.Generating) { await Task.Delay(200, stop); turn--; continue; }
                    if (snapshot.Messages.Length == 0) await session.ConfigureAsync(new GenerationSettings { Seed = 0, MaxNewTokens = maxNew });
                    await session.ChatAsync(Prompts[(generation + turn) % Prompts.Count]).WaitAsync(stop);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
                catch (Exception e) { report.Error("backend: " + e.GetType().Name); await Delay(stop); turn = 3; }
            }
        }
    }

    /// <summary>A reader of streamed replies: resumes at the next chunk index after any failure, so it sees what a client would.</summary>
    private static async Task StreamLoopAsync(IClusterClient client, string credential, string prefix, int maxNew, HashSet<string> honest, SoakReport report, CancellationToken stop)
    {
        using var asService = CallerCredential.Use(credential);
        for (int generation = 0; !stop.IsCancellationRequested; generation++)
        {
            string id = $"{prefix}-{generation}";
            lock (honest) honest.Add(id);
            var session = client.GetGrain<ISessionGrain>(id);
            try
            {
                await session.ConfigureAsync(new GenerationSettings { Seed = 0, MaxNewTokens = maxNew });
                for (int turn = 0; turn < 3 && !stop.IsCancellationRequested; turn++)
                {
                    await session.SendUserMessageAsync(Prompts[(generation + 2 * turn) % Prompts.Count]);
                    var tokens = new List<int>();
                    int next = 0, attempts = 0;
                    bool final = false;
                    while (!final && attempts < 60 && !stop.IsCancellationRequested)
                    {
                        try
                        {
                            // The end of the load phase abandons a slow stream: what was read so far is still checked.
                            await foreach (var chunk in session.StreamReplyAsync(next).WithCancellation(stop))
                            {
                                if (chunk.Index != next) report.ChunkGaps++;
                                tokens.AddRange(chunk.Tokens);
                                next = chunk.Index + 1;
                                final = chunk.Final;
                            }
                        }
                        catch (OperationCanceledException) when (stop.IsCancellationRequested) { break; }
                        catch (Exception e) { report.Error("stream: " + e.GetType().Name); attempts++; await Task.Delay(500); }
                    }
                    lock (report.Streamed)
                    {
                        if (!report.Streamed.TryGetValue(id, out var list)) report.Streamed[id] = list = new();
                        list.Add(tokens.ToArray());
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { return; }
            catch (Exception e) { report.Error("stream session: " + e.GetType().Name); await Delay(stop); }
        }
    }

    private static async Task ChaosAsync(ProcessCluster cluster, IClusterClient client, int seconds, bool killEdge, bool killSilo, SoakReport report, CancellationToken stop)
    {
        try
        {
            if (killEdge)
            {
                await Task.Delay(TimeSpan.FromSeconds(seconds * 0.35), stop);
                var victim = cluster.Edges.Keys.First();
                cluster.Edges[victim].Kill();
                report.Events.Add($"{seconds * 0.35:F0}s: killed edge process {victim} (kill -9), restarted it");
                report.KillsUnixMs.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
                cluster.StartEdge(victim);
            }
            if (killSilo)
            {
                await Task.Delay(TimeSpan.FromSeconds(seconds * (0.7 - (killEdge ? 0.35 : 0))), stop);
                cluster.Silos["silo-b"].Kill();
                report.Events.Add($"{seconds * 0.7:F0}s: killed silo-b (kill -9)");
                report.KillsUnixMs.Add(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
            }
        }
        catch (OperationCanceledException) { }
    }

    private static async Task SampleMemoryAsync(ProcessCluster cluster, IClusterClient client, SoakReport report, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            foreach (var (name, silo) in cluster.Silos)
            {
                if (silo.HasExited) continue;
                report.SiloRssHighWaterMiB = Math.Max(report.SiloRssHighWaterMiB, ProcessCluster.HighWaterMiB(silo));
                var stats = await Try(() => client.GetGrain<IVerifierBatchGrain>(new VerifierKey(name, 0).ToString()).GetStatsAsync());
                if (stats is not null) report.KvHighWaterBytes = Math.Max(report.KvHighWaterBytes, stats.KvBytes);
            }
            try { await Task.Delay(500, stop); } catch (OperationCanceledException) { }
        }
    }

    /// <summary>Reads an edge process's JSON line: a finished reply (step latencies, phase by time) or an error.</summary>
    private static void Collect(string line, HashSet<string> honest, SoakReport report, double hostileFrom, Stopwatch clock)
    {
        if (!line.StartsWith('{')) return;
        using var json = JsonDocument.Parse(line);
        var r = json.RootElement;
        string id = r.GetProperty("session").GetString()!;
        lock (honest) honest.Add(id);
        if (r.TryGetProperty("error", out var error))
        {
            string message = error.GetString()!;
            report.Error("edge: " + message.Split(':')[0]);
            if (report.Examples.Count < 20) report.Examples.Add($"{id}: {message}");
            return;
        }
        long when = r.GetProperty("time").GetInt64();
        if (r.TryGetProperty("earlyBets", out var bets))
            lock (report) { report.EarlyBets += bets.GetInt32(); report.EarlyHits += r.GetProperty("earlyHits").GetInt32(); }
        bool underAttack = when >= report.StartedUnixMs + (long)(hostileFrom * 1000);
        // Compare like with like: leave out replies that ended during the warm-up (the first 30 % of the calm half, 15 % of the run:
        // processes starting, caches filling) or within 10 s after a kill, in either half.
        bool warmUp = when < report.StartedUnixMs + (long)(hostileFrom * 1000 * 0.3);
        bool afterKill = report.KillsUnixMs.Any(k => when >= k && when < k + 10_000);
        if (warmUp || afterKill)
        {
            foreach (var ms in r.GetProperty("stepMs").EnumerateArray()) report.StepMsExcluded.Add(ms.GetDouble());
            return;
        }
        var target = underAttack ? report.StepMsUnderAttack : report.StepMsCalm;
        foreach (var ms in r.GetProperty("stepMs").EnumerateArray()) target.Add(ms.GetDouble());
    }

    private static void CompareStreams(string id, int[] committed, int[] starts, List<int[]> streamed, SoakReport report)
    {
        for (int t = 0; t < Math.Min(starts.Length, streamed.Count); t++)
        {
            int end = t + 1 < starts.Length ? starts[t + 1] : committed.Length;
            var reply = committed[starts[t]..end];
            var seen = streamed[t];
            int common = 0;
            while (common < Math.Min(reply.Length, seen.Length) && reply[common] == seen[common]) common++;
            // The committed span up to the next turn also holds the next turn's prompt: only the reply's own length counts.
            int replyLength = Math.Min(reply.Length, Math.Max(seen.Length, common));
            report.Lost += Math.Max(0, Math.Min(reply.Length, replyLength) - common);
            report.Duplicated += Math.Max(0, seen.Length - common);
        }
    }

    /// <summary>
    /// A conversation's tokens, whether a reply is in progress, and for each user turn whether it was answered (an
    /// assistant message follows it; a reply that ended with an error leaves none).
    /// </summary>
    private static async Task<(int[] Committed, bool Generating, bool[] Answered)> ReadCommittedAsync(IClusterClient client, string id)
    {
        var session = client.GetGrain<ISessionGrain>(id);
        var observer = client.CreateObjectReference<IEdgeObserver>(new ReaderObserver());
        var attachment = await session.AttachEdgeAsync("soak-reader", observer);
        await session.DetachEdgeAsync("soak-reader");
        var messages = (await session.GetAsync()).Messages;
        var answered = messages.Select((m, i) => (m, i)).Where(x => x.m.Role == "user")
            .Select(x => x.i + 1 < messages.Length && messages[x.i + 1].Role == "assistant").ToArray();
        return (attachment.Committed, attachment.Generating, answered);
    }

    private static async Task<T?> Try<T>(Func<Task<T>> call) where T : class
    {
        try { return await call(); } catch (Exception) { return null; }
    }

    private static async Task Delay(CancellationToken stop)
    {
        try { await Task.Delay(500, stop); } catch (OperationCanceledException) { }
    }

    private sealed class ReaderObserver : IEdgeObserver
    {
        public Task OnVerdict(StepVerdict verdict) => Task.CompletedTask;
        public Task OnRejected(TreeRejection rejection) => Task.CompletedTask;
        public Task OnEarlyVerdict(EarlyStepVerdict verdict) => Task.CompletedTask;
        public Task OnTurnStarted(TurnStarted turn) => Task.CompletedTask;
    }
}
