using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;

namespace SpecEdge.EdgeLoad;

/// <summary>
/// Load mode for the soak benchmark (<c>--soak N</c>): N honest edge sessions in this one process (2 cores cannot hold
/// a libtorch process per session), each holding conversations of a few greedy turns, until stopped or killed.
/// Every finished reply is printed as one JSON line on stdout (session, turn, steps, step latencies, time) for the
/// driver to read; conversation ids are stable per (prefix, slot, generation), so a restarted process resumes them.
/// The process holds a service credential (the prefix is its tenant's, "tenant/..."): it enrols one edge per
/// conversation (<see cref="EdgeEnroller"/>: over HTTP, or through its Orleans connection) and plays that edge under the
/// edge credential, as a backend enrolling many gamer PCs would.
/// </summary>
public sealed class SoakEdges(EdgeEnroller enroller, IOptions<EdgeHostOptions> options, IOptions<EdgeLoadOptions> load, IConfiguration configuration, IHostApplicationLifetime lifetime, ILogger<SoakEdges> logger) : BackgroundService
{
    private static readonly string[] Prompts =
    {
        "The history of the city", "He said that the committee", "In the morning the farmers", "The new law will",
        "She looked at the house and", "The president of the company", "It was the first time that", "Most of the students",
    };
    private const int TurnsPerConversation = 3;
    private readonly EdgeHostOptions _o = options.Value;
    private readonly EdgeLoadOptions _load = load.Value;
    private readonly object _stdout = new();

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        if (_o.Threads > 0) TorchSharp.torch.set_num_threads(_o.Threads);
        try
        {
            // One draft model per session (the runtime's models are not meant to be driven from several threads at
            // once), loaded one after the other: TorchSharp's first use is not safe to race.
            var drafts = new List<CausalLm>();
            try
            {
                for (int i = 0; i < _load.Soak; i++) drafts.Add(CausalLm.Load(_o.DraftModel, _o.DType, _o.Device));
                await Task.WhenAll(drafts.Select((draft, slot) => Task.Run(() => RunSlotAsync(slot, draft, stopping))));
            }
            finally
            {
                foreach (var d in drafts) d.Dispose();
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
        finally { lifetime.StopApplication(); }
    }

    private async Task RunSlotAsync(int slot, CausalLm draft, CancellationToken stopping)
    {
        var tree = _o.Tree();
        for (int generation = 0; !stopping.IsCancellationRequested; generation++)
        {
            // "tenant/prefix-slot-generation" (a bare prefix is in tenant "soak"): the edge credential below names exactly this id.
            string sessionId = EdgeHostOptions.PrefixedConversationId(_load.SoakPrefix, "soak", $"{slot}-{generation}");
            string edgeId = $"{_load.SoakPrefix}-edge-{slot}";
            GatewayEdgeLink? gateway = null;
            EdgeSession? edge = null;
            try
            {
                // Enrolled as the tenant's service (over HTTP with --enrol-url, else through Orleans); with --edge-gateway
                // the edge then chats and drafts over the silos' edge gateways only.
                string token = await enroller.IssueAsync(sessionId, edgeId, chat: true, TimeSpan.FromHours(1), stopping);
                using var asEdge = CallerCredential.Use(token);
                var settings = new GenerationSettings { Temperature = 0, Seed = 0, MaxNewTokens = _o.MaxNewTokens };
                if (_o.UsesEdgeGateway && _o.EdgeGateway is { } addresses)
                {
                    var tls = configuration.GetSection(EdgeTlsOptions.Section).Get<EdgeTlsOptions>() ?? new EdgeTlsOptions();
                    // Processes start on different silos' gateways (and move on when one dies).
                    var ordered = GatewayEdgeLink.ParseAddresses(addresses);
                    ordered = ordered.Skip(slot % ordered.Length).Concat(ordered.Take(slot % ordered.Length)).ToArray();
                    gateway = new GatewayEdgeLink(ordered, token, sessionId, tls.CertificateFile, tls.ClusterCaFile);
                    edge = new EdgeSession(gateway, draft, sessionId, edgeId, tree, capacity: 4096) { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) };
                }
                else edge = new EdgeSession(Orleans, draft, sessionId, edgeId, tree, capacity: 4096, _o.Transport) { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) };
                var existing = await edge.ReadMessagesAsync();
                int turn = existing.Count(m => m.Role == "user");
                if (gateway is null && existing.Length == 0) await Orleans.GetGrain<ISessionGrain>(sessionId).ConfigureAsync(settings);
                var attachment = await edge.AttachAsync();
                if (turn >= TurnsPerConversation && !attachment.Generating) continue;   // finished before a restart
                if (attachment.Generating) Report(sessionId, turn, await edge.RunReplyAsync(cancellation: stopping));   // resume
                for (; turn < TurnsPerConversation && !stopping.IsCancellationRequested; turn++)
                {
                    string text = Prompts[(slot + generation + turn) % Prompts.Length];
                    if (gateway is not null) await edge.BeginTurnAsync(new TurnRequest { Text = text, Settings = settings });
                    else await edge.SendAsync(text);
                    Report(sessionId, turn, await edge.RunReplyAsync(cancellation: stopping));
                }
                await edge.DetachAsync();
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested) { return; }
            catch (Exception e)
            {
                // An honest edge keeps going: the conversation is checked against greedy decoding by the driver anyway.
                logger.LogWarning("Soak session {Session}: {Error}", sessionId, e.Message);
                Print(new { session = sessionId, error = e.GetType().Name + ": " + e.Message, time = Now() });
                await Task.Delay(500, stopping);
                generation--;   // the same conversation again: it must end up complete and exact
            }
            finally
            {
                edge?.Dispose();
                if (gateway is not null) await gateway.DisposeAsync();
            }
        }
    }

    private IClusterClient Orleans => enroller.Orleans ?? throw new InvalidOperationException("Soak edges without --edge-gateway need an Orleans connection (no --enrol-url).");

    private void Report(string sessionId, int turn, ReplyStats stats) =>
        Print(new { session = sessionId, turn, steps = stats.Steps, tokens = stats.Tokens, stepMs = stats.StepMilliseconds,
            earlyBets = stats.EarlyHits + stats.EarlyMisses, earlyHits = stats.EarlyHits, time = Now() });

    private void Print(object line)
    {
        lock (_stdout) Console.Out.WriteLine(JsonSerializer.Serialize(line));
    }

    private static long Now() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
}
