using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.EdgeLoad;

/// <summary>
/// Measurement mode for the end-to-end benchmark (<c>--bench N</c>): N conversations in this process, each one greedy
/// reply per prompt, started together once the file named by <c>--bench-go-file</c> exists (so that every edge process
/// of a run starts at once). <c>--bench-mode edge</c> drafts here (one draft model per conversation) and reports every
/// step's timestamps and the silo's breakdown; <c>--bench-mode server</c> is the user of a server-decoded reply (no
/// edge attached): it sends the message and reads the streamed chunks. One JSON line per reply on stdout.
/// The process holds a service credential and enrols one edge per conversation, as the soak's edge processes do, outside
/// the measured window. With <c>--edge-gateway</c> the edges draft and chat over the silo's edge gateway; with
/// <c>--enrol-url</c> too, the process enrols them over HTTP and has no Orleans connection at all.
/// </summary>
public sealed class BenchEdges(EdgeEnroller enroller, IOptions<EdgeHostOptions> options, IOptions<EdgeLoadOptions> load, IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<BenchEdges> logger) : BackgroundService
{
    private static readonly string[] Prompts =
    {
        "The history of the city", "He said that the committee", "In the morning the farmers", "The new law will",
        "She looked at the house and", "The president of the company", "It was the first time that", "Most of the students",
    };
    private readonly EdgeHostOptions _o = options.Value;
    private readonly EdgeLoadOptions _load = load.Value;
    private readonly object _stdout = new();

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (_o.Threads > 0) TorchSharp.torch.set_num_threads(_o.Threads);
        bool edge = _load.BenchMode switch
        {
            "edge" => true,
            "server" => false,
            _ => throw new ArgumentException($"Edge:BenchMode must be 'edge' or 'server', not '{_load.BenchMode}'."),
        };
        var drafts = new List<CausalLm>();
        try
        {
            // Loaded one after the other: TorchSharp's first use is not safe to race.
            if (edge) for (int i = 0; i < _load.Bench; i++) drafts.Add(CausalLm.Load(_o.DraftModel, _o.DType, _o.Device));
            var credentials = new string[_load.Bench];
            for (int i = 0; i < _load.Bench; i++)
                credentials[i] = await enroller.IssueAsync(SessionId(i), EdgeId(i), chat: true, TimeSpan.FromHours(1), stopping);
            Print(new { ready = true });
            while (_load.BenchGoFile is { Length: > 0 } go && !File.Exists(go)) await Task.Delay(5, stopping);
            await Task.WhenAll(Enumerable.Range(0, _load.Bench).Select(i => Task.Run(() => edge
                ? EdgeRepliesAsync(i, drafts[i], credentials[i], stopping)
                : ServerRepliesAsync(i, stopping))));
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
        catch (Exception e)
        {
            logger.LogError(e, "Bench mode failed: {Message}", e.Message);
            Print(new { error = e.GetType().Name + ": " + e.Message });
            Environment.ExitCode = 1;
        }
        finally
        {
            foreach (var d in drafts) d.Dispose();
            lifetime.StopApplication();
        }
    }

    /// <summary>The conversation of a slot: "tenant/prefix-slot" (a bare prefix is in tenant "bench"); its edge credential names exactly this id.</summary>
    private string SessionId(int slot) => EdgeHostOptions.PrefixedConversationId(_load.BenchPrefix, "bench", slot.ToString(System.Globalization.CultureInfo.InvariantCulture));
    private string EdgeId(int slot) => $"{_load.BenchPrefix}-edge-{slot}";

    private async Task EdgeRepliesAsync(int slot, CausalLm draft, string credential, CancellationToken stopping)
    {
        using var asEdge = CallerCredential.Use(credential);
        var tree = _o.Tree();
        var tls = configuration.GetSection(EdgeTlsOptions.Section).Get<EdgeTlsOptions>() ?? new EdgeTlsOptions();
        await using var gateway = _o.UsesEdgeGateway && _o.EdgeGateway is { } address
            ? new GatewayEdgeLink(GatewayEdgeLink.ParseAddresses(address), credential, SessionId(slot), tls.CertificateFile, tls.ClusterCaFile) : null;
        using var edge = gateway is not null
            ? new EdgeSession(gateway, draft, SessionId(slot), EdgeId(slot), tree, capacity: 4096) { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) }
            : new EdgeSession(Orleans, draft, SessionId(slot), EdgeId(slot), tree, capacity: 4096, _o.Transport) { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) };
        if (gateway is null) await Orleans.GetGrain<ISessionGrain>(SessionId(slot)).ConfigureAsync(Settings());
        await edge.AttachAsync();
        for (int r = 0; r < _load.BenchReplies && !stopping.IsCancellationRequested; r++)
        {
            var clock = Stopwatch.StartNew();
            long sendAt = StepTiming.NowUnixMicroseconds();
            double firstMs = double.NaN;
            int prompt = (slot + r) % Prompts.Length;
            string? replayFile = _load.BenchDraftReplay is { Length: > 0 } dir
                ? Path.Combine(dir, $"prompt{prompt}-{_o.MaxNewTokens}-b{_o.Budget}-d{_o.MaxDepth}.json") : null;
            var recorded = replayFile is not null && File.Exists(replayFile) ? JsonSerializer.Deserialize<List<DraftMessage>>(File.ReadAllText(replayFile)) : null;
            var recording = replayFile is not null && recorded is null ? new List<DraftMessage>() : null;
            edge.TreeDrafted = recording is null ? null : recording.Add;
            long up = gateway?.BytesSent ?? 0, down = gateway?.BytesReceived ?? 0;
            if (gateway is not null) await edge.BeginTurnAsync(new TurnRequest { Text = Prompts[prompt], Settings = Settings() });
            else await edge.SendAsync(Prompts[prompt]);
            Action<int[]> shown = _ => { if (double.IsNaN(firstMs)) firstMs = clock.Elapsed.TotalMilliseconds; };
            var stats = recorded is not null ? await DraftReplay.RunAsync(edge, recorded, shown, stopping) : await edge.RunReplyAsync(shown, stopping);
            if (recording is { Count: > 0 } && replayFile is not null) Record(replayFile, recording);
            Print(new
            {
                session = SessionId(slot), reply = r, sendAt, ttftMs = firstMs, wallMs = clock.Elapsed.TotalMilliseconds, tokens = stats.Tokens,
                proactiveHits = stats.ProactiveHits, proactiveBets = stats.ProactiveHits + stats.ProactiveMisses,
                earlyHits = stats.EarlyHits, earlyVerdicts = stats.EarlyHits + stats.EarlyMisses,
                // The gateway's protocol messages of this reply (turn, trees, verdicts; no HTTP/2 or TLS framing).
                protocolBytesUp = gateway is null ? (long?)null : gateway.BytesSent - up, protocolBytesDown = gateway is null ? (long?)null : gateway.BytesReceived - down,
                steps = stats.Timings.Select(t => new
                {
                    draftMs = t.DraftMs, sent = t.SentUnixMicroseconds, verdict = t.VerdictUnixMicroseconds, displayMs = t.DisplayMs, preDraftMs = t.PreDraftMs, tokens = t.Tokens,
                    received = t.Server?.ReceivedUnixMicroseconds, queueUs = t.Server?.QueueMicroseconds, verifyUs = t.Server?.VerifyMicroseconds,
                    persistUs = t.Server?.PersistMicroseconds, sessionUs = t.Server?.SessionMicroseconds,
                }),
            });
        }
        await edge.DetachAsync();
    }

    /// <summary>Writes a reply's trees for later replays; another process recording the same prompt at once writes the same trees.</summary>
    private static void Record(string file, List<DraftMessage> trees)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(file))!);
        string temp = file + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(trees));
        try { File.Move(temp, file, overwrite: false); }
        catch (IOException) { File.Delete(temp); }   // recorded already
    }

    /// <summary>A user of server-side decoding: sends the message and times each streamed chunk's arrival.</summary>
    private async Task ServerRepliesAsync(int slot, CancellationToken stopping)
    {
        var session = Orleans.GetGrain<ISessionGrain>(SessionId(slot));
        await session.ConfigureAsync(Settings());
        for (int r = 0; r < _load.BenchReplies && !stopping.IsCancellationRequested; r++)
        {
            var clock = Stopwatch.StartNew();
            long sendAt = StepTiming.NowUnixMicroseconds();
            var turn = await session.SendUserMessageAsync(Prompts[(slot + r) % Prompts.Length]);
            var chunks = new List<object>();
            int tokens = 0;
            double firstMs = double.NaN;
            await foreach (var chunk in session.StreamReplyAsync(0).WithCancellation(stopping))
            {
                if (chunk.Tokens.Length > 0 && double.IsNaN(firstMs)) firstMs = clock.Elapsed.TotalMilliseconds;
                tokens += chunk.Tokens.Length;
                chunks.Add(new { at = StepTiming.NowUnixMicroseconds(), tokens = chunk.Tokens.Length });
                if (chunk.Final) break;
            }
            Print(new { session = SessionId(slot), reply = r, sendAt, ttftMs = firstMs, wallMs = clock.Elapsed.TotalMilliseconds, tokens, chunks });
        }
    }

    private IClusterClient Orleans => enroller.Orleans ?? throw new InvalidOperationException("This bench mode needs an Orleans connection: server-decoded replies and edges without --edge-gateway (drop --enrol-url).");

    private GenerationSettings Settings() => new() { Temperature = 0, Seed = 0, MaxNewTokens = _o.MaxNewTokens, UseChatTemplate = !_o.Raw };

    private void Print(object line)
    {
        lock (_stdout) Console.Out.WriteLine(JsonSerializer.Serialize(line));
    }
}
