using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Verification;

namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// End to end through real processes: silo processes with Azurite session storage (secured, TLS, as in production), and
/// edge-host processes in bench mode (<c>--bench</c>) that reach the silo's gateway through a <see cref="DelayingTcpProxy"/>
/// adding the emulated WAN round trip. Side by side, per round trip: target-only AR and server-only tree SD (the user
/// streams a server-decoded reply), edge-assisted and edge-assisted + proactive (the edge processes draft). Edge steps
/// are broken down with timestamps from both sides (same machine, same clock). Then the pipeline comparison (issue 13,
/// item 3): edges whose emulated draft time plus round trip is about one verify of half of them, against a silo with
/// today's work-conserving batching and one with pipeline-aware batching, in the same run.
/// Three silos, each in a cluster of its own: "edge" (no server draft: AR and the edge modes), "sd" (a server draft
/// model: server-only SD), "pipe" (as "edge", pipeline-aware batching); a fourth, "whole" (as "edge", trees verified whole:
/// SpecEdge:TreeTrimming Off), when a whole-tree mode is asked for, to set goodput trimming beside the trees before it;
/// a fifth, "early" (as "edge", early verdicts on: the edges draft ahead on them), when an early-exit mode is asked for;
/// a sixth, "no-hand-back" (as "edge", hand-backs off), to set hand-backs beside goodput trimming alone; a seventh,
/// "edge-sd" (as "edge", with the server draft model of "sd"), whose hand-backs the server drafts where that pays; and
/// beside "sd", which drafts a forward's trees together, "sd-1x1" (one tree after another), "sd-whole" and "sd-whole-1x1"
/// (the same two with trees verified whole, so that every server step is drafted), when their modes are asked for.
/// </summary>
public static class E2eBenchmark
{
    /// <param name="Gateway">The edges draft over the silo's edge gateway (gRPC) instead of their Orleans connection.</param>
    private sealed record Mode(string Name, string Silo, string BenchMode, bool Proactive, bool Gateway = false);

    private static readonly Mode[] Modes =
    {
        new("target-only AR", "edge", "server", false),
        new("server-only tree SD", "sd", "server", false),
        new("edge-assisted", "edge", "edge", false),
        new("edge-assisted + proactive", "edge", "edge", true),
        new("edge-assisted, edge gateway", "edge", "edge", false, Gateway: true),
        new("edge-assisted + proactive, edge gateway", "edge", "edge", true, Gateway: true),
        new("edge-assisted, whole trees", "whole", "edge", false),
        new("edge-assisted + proactive, whole trees", "whole", "edge", true),
        new("edge-assisted + early exit", "early", "edge", false),
        new("edge-assisted + proactive + early exit", "early", "edge", true),
        new("edge-assisted, trimming without hand-backs", "no-hand-back", "edge", false),
        new("edge-assisted, server-drafted hand-backs", "edge-sd", "edge", false),
        new("server-only tree SD, trees drafted one by one", "sd-1x1", "server", false),
        new("server-only tree SD, whole trees always drafted", "sd-whole", "server", false),
        new("server-only tree SD, whole trees always drafted one by one", "sd-whole-1x1", "server", false),
        new("edge-assisted, the edge drafts the first step", "edge-first", "edge", false),
        new("edge-assisted, the server waits for the edge after a hand-back", "edge-wait", "edge", false),
    };

    private static readonly string[] ModeKeys = { "ar", "sd", "edge", "proactive", "gateway", "gateway-proactive", "whole", "whole-proactive", "early", "early-proactive", "no-hand-back", "edge-sd", "sd-1x1", "sd-whole", "sd-whole-1x1", "edge-first", "edge-wait" };

    public static async Task<int> RunAsync(BenchOptions o)
    {
        string root = ProcessCluster.RepoRoot();
        string target = Path.GetFullPath(Path.Combine(root, o.String("target", "models/demo/target")));
        string draft = Path.GetFullPath(Path.Combine(root, o.String("draft", "models/demo/draft")));
        int processes = o.Int("edge-processes", 2), sessions = o.Int("sessions", 2), maxNew = o.Int("max-new-tokens", 32), maxBatch = o.Int("max-batch", 8), replies = o.Int("replies", 1);
        int[] rtts = o.Ints("rtt-ms", new[] { 0, 15, 50 });
        bool pipeline = o.String("pipeline", "true") == "true";
        var modes = o.String("modes", "ar,sd,edge,proactive").Split(',').Select(m => Modes[Array.IndexOf(ModeKeys, m) is >= 0 and var i ? i
            : throw new ArgumentException($"--modes lists '{m}'; the modes are {string.Join(", ", ModeKeys)}.")]).ToArray();
        int pipeSessions = o.Int("pipeline-sessions", 4), pipeRtt = o.Int("pipeline-rtt-ms", 15), pipeMaxNew = o.Int("pipeline-max-new-tokens", 64), pipeRounds = o.Int("pipeline-rounds", 2), pipeWarmup = o.Int("pipeline-warmup-rounds", 1), pipeNice = o.Int("pipeline-edge-nice", 0);
        bool pipeReplay = o.String("pipeline-draft-replay", "true") == "true";
        double pipeDraftMs = o.Double("pipeline-draft-ms", double.NaN);
        // --slow-edge-ms D: each edge cell runs one more edge process whose drafting takes D ms a step (a slow or hostile
        // edge), and reports the other edges' sessions apart: what a slow neighbour costs them.
        double slowEdgeMs = o.Double("slow-edge-ms", 0);
        string outPath = o.String("out", "bench-results/e2e.json");
        string loadBefore = File.ReadAllText("/proc/loadavg").Trim();
        var clock = Stopwatch.StartNew();
        Console.WriteLine($"e2e: {processes} edge processes x {sessions} conversations per cell, {maxNew} new tokens, greedy raw continuation, round trips {string.Join(", ", rtts)} ms; load {loadBefore}");

        using var cluster = new ProcessCluster(root, target, draft, kvMb: 512, maxNewTokens: maxNew, edgeSessions: sessions);
        string logs = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(outPath))!, "e2e-logs");
        try { return await MeasureAsync(); }
        finally
        {
            cluster.SaveLogs(logs);
            Console.WriteLine($"process logs in {logs}");
        }

        async Task<int> MeasureAsync()
        {
        var common = new[] { "--SpecEdge:StepTimings", "true", "--SpecEdge:MaxBatch", maxBatch.ToString(), "--SpecEdge:EdgeLeaseSeconds", "10" };
        // The "edge" silo also serves the edge gateway, behind a delaying proxy of its own (front port -> the silo's).
        int edgeGatewayFront = ExternalProcess.FreePort(), edgeGatewayBack = ExternalProcess.FreePort();
        var silos = new Dictionary<string, string[]>
        {
            ["edge"] = common.Concat(new[] { "--Gateway:Port", edgeGatewayBack.ToString() }).ToArray(),
            ["sd"] = common.Concat(new[] { "--SpecEdge:ServerDraftModel", draft }).ToArray(),
            ["pipe"] = common.Concat(new[] { "--SpecEdge:Batching", "PipelineAware" }).ToArray(),
        };
        if (!pipeline) silos.Remove("pipe");
        else if (pipeReplay)
        {
            // Replayed trees need the verdicts they were recorded with, and goodput trimming (the default) cuts trees by the
            // load of the moment: under it a replay left its recorded path ("the recording is not of this prompt"). The
            // pipeline study compares batching policies, so both of its silos verify whole trees.
            silos["pipe"] = silos["pipe"].Concat(new[] { "--SpecEdge:TreeTrimming", "Off" }).ToArray();
            silos["pipe-wc"] = common.Concat(new[] { "--SpecEdge:TreeTrimming", "Off" }).ToArray();
        }
        if (modes.Any(m => m.Silo == "whole")) silos["whole"] = common.Concat(new[] { "--SpecEdge:TreeTrimming", "Off" }).ToArray();
        // Goodput trimming as before hand-backs: a session whose edge loop does not pay still runs it (SpecEdge:HandBackSteps 0).
        if (modes.Any(m => m.Silo == "no-hand-back")) silos["no-hand-back"] = common.Concat(new[] { "--SpecEdge:HandBackSteps", "0" }).ToArray();
        // As "edge", with a draft model of the silo's own: hand-backs draft where that pays, and weigh it against the edges' loop.
        if (modes.Any(m => m.Silo == "edge-sd")) silos["edge-sd"] = common.Concat(new[] { "--SpecEdge:ServerDraftModel", draft }).ToArray();
        // The server's drafting one tree after another (SpecEdge:BatchServerDrafts false) beside "sd", which drafts a forward's
        // trees together; and both with trees verified whole, which makes the server draft every step (no goodput rule).
        string[] sd = silos["sd"];
        if (modes.Any(m => m.Silo == "sd-1x1")) silos["sd-1x1"] = sd.Concat(new[] { "--SpecEdge:BatchServerDrafts", "false" }).ToArray();
        if (modes.Any(m => m.Silo == "sd-whole")) silos["sd-whole"] = sd.Concat(new[] { "--SpecEdge:TreeTrimming", "Off" }).ToArray();
        if (modes.Any(m => m.Silo == "sd-whole-1x1")) silos["sd-whole-1x1"] = sd.Concat(new[] { "--SpecEdge:TreeTrimming", "Off", "--SpecEdge:BatchServerDrafts", "false" }).ToArray();
        // As "edge", but the reply's first token waits for the edge's first tree (SpecEdge:ServerFirstToken false, the behaviour before).
        if (modes.Any(m => m.Silo == "edge-first")) silos["edge-first"] = common.Concat(new[] { "--SpecEdge:ServerFirstToken", "false" }).ToArray();
        // As "edge", but after a hand-back run the session waits for the edge's next tree (SpecEdge:DecodeWhileEdgeDrafts false, the behaviour before).
        if (modes.Any(m => m.Silo == "edge-wait")) silos["edge-wait"] = common.Concat(new[] { "--SpecEdge:DecodeWhileEdgeDrafts", "false" }).ToArray();
        // Early exits (issue 25): as "edge", with forwards split at the target's exit head and early verdicts sent to the edges.
        if (modes.Any(m => m.Silo == "early")) silos["early"] = common.Concat(new[] { "--SpecEdge:EarlyVerdicts", "true" }).ToArray();
        var ids = silos.Keys.ToDictionary(k => k, k => $"e2e-{k}-{Guid.NewGuid():N}"[..20]);
        // One after the other: model loading of three silos at once on two cores only makes each slower to start.
        // Clients reach each silo only through its proxy (the advertised gateway port); the silo binds another.
        var proxies = new Dictionary<string, DelayingTcpProxy>();
        foreach (var (name, extra) in silos)
        {
            int listen = ExternalProcess.FreePort();
            await cluster.StartSiloAsync(name, ids[name], listen, extra);
            proxies[name] = new DelayingTcpProxy(cluster.Gateways[name], listen);
        }
        using var edgeGatewayProxy = new DelayingTcpProxy(edgeGatewayFront, edgeGatewayBack);
        // The driver (operator: verifier statistics) goes through the proxy too; its few calls happen outside the measured window.
        var drivers = new Dictionary<string, IHost>();
        foreach (var name in silos.Keys) drivers[name] = await cluster.ConnectAsync(cluster.Gateways[name], ids[name]);
        Console.WriteLine($"silos up after {clock.Elapsed.TotalSeconds:F0}s");

        var cells = new List<E2eCell>();
        var edgeForwards = new List<(int Batch, double Ms)>();   // the edge modes' forwards: what the pipeline's draft time is fitted on
        int cellNumber = 0;
        async Task<E2eCell> RunCellAsync(string mode, string silo, string benchMode, bool proactive, int rtt, int perProcess, int newTokens, double draftDelayMs, int nice = 0, string? replay = null, bool gateway = false)
        {
            // Over the gateway the measured link is the gateway's; the edges enrol over HTTP before the window and open no Orleans connection.
            var proxy = gateway ? edgeGatewayProxy : proxies[silo];
            proxies[silo].OneWayDelay = TimeSpan.FromMilliseconds(rtt / 2.0);
            proxy.OneWayDelay = TimeSpan.FromMilliseconds(rtt / 2.0);
            var verifier = drivers[silo].Services.GetRequiredService<IClusterClient>().GetGrain<IVerifierBatchGrain>(new VerifierKey(silo, 0).ToString());
            var statsBefore = await verifier.GetStatsAsync();
            long before = statsBefore.Forwards;
            string go = Path.Combine(Path.GetTempPath(), $"e2e-go-{Guid.NewGuid():N}");
            var lines = new List<string>();
            int ready = 0;
            var edges = new List<ExternalProcess>();
            int n = cellNumber++;
            // The slow neighbour (--slow-edge-ms) joins the ordinary edge cells only, as one more process.
            bool slow = slowEdgeMs > 0 && benchMode == "edge" && replay is null;
            var slowLines = new List<string>();
            for (int p = 0; p < processes + (slow ? 1 : 0); p++)
            {
                bool isSlow = p == processes;
                var into = isSlow ? slowLines : lines;
                string name = isSlow ? $"c{n}-slow" : $"c{n}-p{p}";
                edges.Add(cluster.StartEdgeProcess(name, cluster.Gateways[silo], ids[silo], new[]
                {
                    "--bench", perProcess.ToString(), "--bench-mode", benchMode, "--bench-prefix", AccessCredential.TenantPrefix(ProcessCluster.Tenant) + name,
                    "--bench-go-file", go, "--bench-replies", replies.ToString(), "--max-new-tokens", newTokens.ToString(), "--raw", "true", "--proactive", proactive ? "true" : "false",
                    "--draft-delay-ms", (isSlow ? slowEdgeMs : draftDelayMs).ToString(System.Globalization.CultureInfo.InvariantCulture), "--threads", "1",
                }.Concat(replay is null ? Array.Empty<string>() : new[] { "--bench-draft-replay", replay }), line =>
                {
                    if (line.StartsWith("{\"ready\"")) Interlocked.Increment(ref ready);
                    else lock (lines) into.Add(line);
                }, nice, edgeGateway: gateway ? $"https://127.0.0.1:{edgeGatewayFront}" : null, enrolUrl: $"http://127.0.0.1:{cluster.HttpPorts[silo]}"));
            }
            var wait = Stopwatch.StartNew();
            while (Volatile.Read(ref ready) < edges.Count && wait.Elapsed < TimeSpan.FromSeconds(120) && edges.All(e => !e.HasExited)) await Task.Delay(50);
            proxy.ResetCounters();
            var cpu = new CpuMeter(cluster.Silos[silo].ProcessId);
            File.WriteAllText(go, "go");
            foreach (var e in edges)
                if (!await e.WaitForExitAsync(TimeSpan.FromSeconds(180))) { lock (lines) lines.Add("{\"error\":\"edge process timed out\"}"); e.Kill(); }
            File.Delete(go);
            var (machineCores, siloCores) = cpu.Read();
            long bytesUp = proxy.BytesUp, bytesDown = proxy.BytesDown;
            double addedMs = proxy.MeanAddedMs;
            var stats = await verifier.GetStatsAsync();
            var ms = stats.ForwardMillisecondsSince(before);
            var batches = stats.BatchesSince(before);
            var starts = stats.ForwardStartUnixMicroseconds ?? Array.Empty<long>();
            starts = starts[^Math.Min(starts.Length, ms.Length)..];
            var forwards = Enumerable.Range(0, Math.Min(starts.Length, Math.Min(ms.Length, batches.Length)))
                .Select(i => (starts[i], ms[ms.Length - starts.Length + i], batches[batches.Length - starts.Length + i])).ToList();
            if (benchMode == "edge") edgeForwards.AddRange(forwards.Select(f => (f.Item3, f.Item2)));
            var cell = new E2eCell { Mode = mode, RttMs = rtt, Sessions = processes * perProcess, ProxyAddedOneWayMs = addedMs, MachineCores = machineCores, SiloCores = siloCores };
            List<string> copy, slowCopy;
            lock (lines) (copy, slowCopy) = (lines.ToList(), slowLines.ToList());
            cell.Compute(copy.Concat(slowCopy), forwards, bytesUp, bytesDown);
            if (slow)
            {
                // The server's figures cover every session; the other edges' and the slow one's replies are also reported apart.
                var honest = new E2eCell { Sessions = processes * perProcess };
                honest.Compute(copy, Array.Empty<(long, double, int)>(), 0, 0);
                var neighbour = new E2eCell { Sessions = perProcess };
                neighbour.Compute(slowCopy, Array.Empty<(long, double, int)>(), 0, 0);
                cell.Sessions += perProcess;
                cell.BesideSlowEdge = new E2eCell.SlowNeighbour(slowEdgeMs, honest.TokensPerSecondPerSession, honest.ItlP50Ms, honest.ItlP95Ms, honest.Steps,
                    honest.Tokens, neighbour.TokensPerSecondPerSession, neighbour.Steps, neighbour.Tokens);
                Console.WriteLine(System.FormattableString.Invariant(
                    $"    beside a slow edge ({slowEdgeMs} ms a draft): the other edges {honest.TokensPerSecondPerSession:F1} tokens/s per session, ITL p50 {honest.ItlP50Ms:F1} / p95 {honest.ItlP95Ms:F1} ms, {honest.Tokens} tokens in {honest.Steps} edge steps; the slow edge {neighbour.TokensPerSecondPerSession:F1} tokens/s per session, {neighbour.Tokens} tokens in {neighbour.Steps} edge steps"));
            }
            if (cell.Errors.Count > 0 || cell.Replies < cell.Sessions)
                foreach (var e in edges) Console.WriteLine($"--- {e.Name} (exited: {e.HasExited}), last lines:\n" + string.Join("\n", e.Output.Split('\n').TakeLast(15)));
            cell.EdgeTurnaroundMs = stats.EdgeTurnaroundMs;
            Console.WriteLine($"  {mode} @ {rtt} ms: {cell.Replies} replies, {cell.Tokens} tokens, {cell.TokensPerSecondPerSession:F1} tokens/s per session, edge turnaround as the verifier prices it {cell.EdgeTurnaroundMs:F1} ms{(cell.Errors.Count > 0 ? ", errors: " + string.Join("; ", cell.Errors.Distinct()) : "")} ({clock.Elapsed.TotalSeconds:F0}s)");
            // A silo with a draft of its own: how many of its server steps it drafted, and how many it decoded plainly because drafting did not pay.
            if (stats.ServerDrafts is { } sd && statsBefore.ServerDrafts is { } sd0)
                Console.WriteLine(System.FormattableString.Invariant(
                    $"    server steps drafted {sd.DraftedSteps - sd0.DraftedSteps} in {sd.DraftPasses - sd0.DraftPasses} passes, plain (drafting did not pay) {sd.PlainSteps - sd0.PlainSteps}; the device's drafting so far: {sd.TokensPerStep:F2} tokens/step, {sd.DraftPassMilliseconds:F1} ms/pass + {sd.DraftMilliseconds:F1} ms/tree, {sd.VerifiedNodes:F1} nodes verified"));
            return cell;
        }

        foreach (int rtt in rtts)
            foreach (var m in modes)
                cells.Add(await RunCellAsync(m.Name, m.Silo, m.BenchMode, m.Proactive, rtt, sessions, maxNew, 0, gateway: m.Gateway));
        E2eTable.PrintCells(cells);
        var payload = StepPayload.Measure(drivers.Values.First().Services, cluster);
        Console.WriteLine($"One edge step's own content, serialized: tree (33 nodes) {payload.TreeBytes} B up ({payload.TreeBytes - payload.TreeBytesWithoutConfidence} B of it path probabilities), verdict (4 tokens + timing) {payload.VerdictBytes} B down; " +
            $"the edge credential in every call's request context {payload.CredentialBytes} B. The rest of the bytes per step above: Orleans' message envelope, TLS, keep-alives, set-up calls.");

        // Pipeline comparison: S edges, draft + round trip ~ one verify of S/2 trees (the forward cost fitted on this run).
        var pipeCells = new List<E2eCell>();
        List<PipelinePrediction.Row> prediction = new();
        var calibrationForwards = edgeForwards.ToList();   // the ordinary edge cells' only: the pipeline cells add theirs below
        if (pipeline)
        {
            int total = processes * pipeSessions;
            if (double.IsNaN(pipeDraftMs))
            {
                var fit = new PipelineBatchPlanner();
                foreach (var (batch, ms) in edgeForwards.TakeLast(64)) fit.OnForward(batch, ms);
                pipeDraftMs = Math.Max(1, Math.Round(fit.ForwardMs((total + 1) / 2) - pipeRtt));
                Console.WriteLine($"pipeline: forward of {(total + 1) / 2} trees ~{fit.ForwardMs((total + 1) / 2):F1} ms (fitted), round trip {pipeRtt} ms -> emulated draft {pipeDraftMs} ms");
            }
            // Draft replay: the warm-up round drafts for real and records each prompt's trees; the counted rounds submit the
            // recorded trees (the same greedy replies, so exactly the trees the draft model builds) after the emulated draft
            // time, so the edges' drafting takes none of the two cores (issue 13, item 3: the schedule, not CPU contention).
            string? replayDir = pipeReplay ? Path.Combine(Path.GetTempPath(), $"e2e-drafts-{Guid.NewGuid():N}") : null;
            if (pipeReplay && pipeWarmup < 1) throw new ArgumentException("--pipeline-draft-replay needs a warm-up round to record the trees (--pipeline-warmup-rounds 1).");
            // Warm-up rounds (both silos, not counted): the first rounds on fresh silos ran up to 2x slower than later ones.
            for (int round = -pipeWarmup; round < pipeRounds; round++)
                foreach (var (silo, name) in new[] { (pipeReplay ? "pipe-wc" : "edge", "work-conserving"), ("pipe", "pipeline-aware") })
                {
                    // --pipeline-edge-nice N: the edges' real drafting yields the cores to the silo. Off by default: on 2 cores it
                    // moved the bottleneck to the starved edges (e2e.md), but on a machine with cores to spare it isolates the schedule.
                    var cell = await RunCellAsync(name, silo, "edge", false, pipeRtt, pipeSessions, pipeMaxNew, pipeDraftMs, pipeNice, replayDir);
                    if (round >= 0) pipeCells.Add(cell);
                }
            E2eTable.PrintPipeline(pipeCells, pipeDraftMs);
            Console.WriteLine();
            var calibration = cells.Where(c => c.Mode == "edge-assisted" && c.RttMs == pipeRtt).ToList();
            prediction = PipelinePrediction.Predict(calibration.Count > 0 ? calibration : cells.Where(c => c.Mode == "edge-assisted").ToList(),
                calibrationForwards, pipeCells, pipeDraftMs, maxBatch, pipeMaxNew);
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            benchmark = "e2e", date = DateTime.UtcNow.ToString("u"), target, draft, edgeProcesses = processes, sessionsPerProcess = sessions, maxNewTokens = maxNew,
            maxBatch, payload, loadBefore, loadAfter = File.ReadAllText("/proc/loadavg").Trim(), seconds = clock.Elapsed.TotalSeconds, cells,
            pipeline = new { sessions = processes * pipeSessions, rttMs = pipeRtt, draftMs = pipeDraftMs, maxNewTokens = pipeMaxNew, cells = pipeCells, prediction },
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        Console.WriteLine($"wrote {outPath}; {clock.Elapsed.TotalSeconds:F0}s in all");
        foreach (var d in drivers.Values) await d.StopAsync();
        foreach (var p in proxies.Values) p.Dispose();
        return cells.Concat(pipeCells).Any(c => c.Errors.Count > 0 || c.Replies == 0) ? 1 : 0;
        }
    }
}
