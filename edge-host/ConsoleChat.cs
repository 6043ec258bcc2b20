using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using SpecEdge.Inference.Tokenization;
using SpecEdge.EdgeClient;

namespace SpecEdge.EdgeHost;

/// <summary>
/// The edge host's user-facing loop: loads the draft model, attaches to a conversation and shows replies as they
/// stream, interactively or for one prompt. Survives a lost step or gateway by re-attaching.
/// </summary>
public sealed class ConsoleChat(IServiceProvider services, IConfiguration configuration, IOptions<EdgeHostOptions> options, IOptions<ClientCredentialOptions> credential, IHostApplicationLifetime lifetime, ILogger<ConsoleChat> logger) : BackgroundService
{
    private readonly EdgeHostOptions _o = options.Value;

    protected override async Task ExecuteAsync(CancellationToken stopping)
    {
        try { await RunAsync(stopping); }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested) { }
        catch (Exception e)
        {
            logger.LogError(e, "Edge host failed: {Message}", e.Message);
            Environment.ExitCode = 1;
        }
        finally { lifetime.StopApplication(); }
    }

    private async Task RunAsync(CancellationToken stopping)
    {
        if (_o.Threads > 0) TorchSharp.torch.set_num_threads(_o.Threads);
        using var draft = CausalLm.Load(_o.DraftModel, _o.DType, _o.Device);
        var tokenizer = HfTokenizer.Load(_o.DraftModel);
        logger.LogInformation("Draft {Dir}: {Params:F2}M params, {Layers} layers, {DType} on {Device}",
            _o.DraftModel, draft.Weights.All.Sum(t => t.numel()) / 1e6, draft.Config.NumHiddenLayers, TensorSettings.Name(draft.DType), _o.Device);

        // An enrolled edge works on the conversation its credential names, under the edge id it names (the silo uses
        // those whatever we claim); without a credential file (an open development cluster) anything goes.
        string? token = credential.Value.ReadToken();
        var enrolled = token is not null ? CredentialCodec.ReadUnverified(token) : null;
        string sessionId = !string.IsNullOrWhiteSpace(_o.Session) ? _o.Session
            : enrolled?.ConversationId ?? "local/chat-" + Guid.NewGuid().ToString("N")[..10];
        string edgeId = _o.EdgeId ?? enrolled?.EdgeId ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        var tree = _o.Tree();
        var settings = new GenerationSettings
        {
            Temperature = _o.Temperature, TopK = _o.TopK, TopP = _o.TopP, Seed = _o.Seed, MaxNewTokens = _o.MaxNewTokens,
            UseChatTemplate = !_o.Raw, SystemPrompt = _o.SystemPrompt,
        };
        await using var gateway = _o.UsesEdgeGateway && _o.EdgeGateway is { } address ? OpenGateway(address, token, sessionId) : null;
        using var edge = gateway is not null
            ? new EdgeSession(gateway, draft, sessionId, edgeId, tree, capacity: 4096) { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) }
            : new EdgeSession(services.GetRequiredService<IClusterClient>(), draft, sessionId, edgeId, tree, capacity: 4096, _o.Transport) { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) };
        var existing = await edge.ReadMessagesAsync();
        // Over Orleans the settings are the session's (set here for a new conversation); over the gateway each message carries them.
        if (gateway is null && (existing.Length == 0 || !string.IsNullOrWhiteSpace(_o.Prompt)))
            await services.GetRequiredService<IClusterClient>().GetGrain<ISessionGrain>(sessionId).ConfigureAsync(settings);
        var attachment = await edge.AttachAsync();
        Console.WriteLine($"session {sessionId} ({existing.Length} earlier messages, {(gateway is null ? "Orleans client" : "edge gateway " + _o.EdgeGateway)}); edge {edgeId}");
        foreach (var m in existing) Console.WriteLine($"[{m.Role}] {m.Content}");
        if (attachment.Generating) await ShowReplyAsync(edge, tokenizer, stopping);   // resume a reply in progress

        if (!string.IsNullOrWhiteSpace(_o.Prompt))
        {
            Console.WriteLine($"[user] {_o.Prompt}");
            await SendAsync(edge, gateway is not null, _o.Prompt, settings);
            await ShowReplyAsync(edge, tokenizer, stopping);
            await edge.DetachAsync();
            return;
        }
        Console.WriteLine("Type a message (empty line or /quit to leave; the conversation stays on the cluster).");
        while (!stopping.IsCancellationRequested)
        {
            Console.Write("> ");
            string? line = await Task.Run(Console.ReadLine, stopping);
            if (string.IsNullOrWhiteSpace(line) || line.Trim() == "/quit") break;
            await SendAsync(edge, gateway is not null, line, settings);
            await ShowReplyAsync(edge, tokenizer, stopping);
        }
        await edge.DetachAsync();
        Console.WriteLine($"bye; resume with --session {sessionId}");
    }

    private static Task SendAsync(EdgeSession edge, bool overGateway, string text, GenerationSettings settings) =>
        overGateway ? edge.BeginTurnAsync(new TurnRequest { Text = text, Settings = settings }) : edge.SendAsync(text);

    /// <summary>The stream to the silo's edge gateway, with the enrolment certificate and the cluster CA of section Tls.</summary>
    private GatewayEdgeLink OpenGateway(string address, string? token, string sessionId)
    {
        if (token is null) throw new InvalidOperationException("The edge gateway needs an edge credential (--credential-file).");
        var tls = configuration.GetSection(EdgeTlsOptions.Section).Get<EdgeTlsOptions>() ?? new EdgeTlsOptions();
        return new GatewayEdgeLink(GatewayEdgeLink.ParseAddresses(address), token, sessionId, tls.CertificateFile, tls.ClusterCaFile);
    }

    private async Task ShowReplyAsync(EdgeSession edge, HfTokenizer tokenizer, CancellationToken stopping)
    {
        var text = new StreamingDetokenizer(tokenizer, skipSpecialTokens: true);
        Console.Write("[assistant] ");
        ReplyStats? stats = null;
        for (int attempt = 0; stats is null; attempt++)
        {
            try { stats = await edge.RunReplyAsync(tokens => Console.Write(text.Push(tokens)), stopping); }
            catch (Exception e) when (e is not OperationCanceledException && attempt < 10)
            {
                // Gateway gone or the cluster busy: wait, re-attach, and pick the reply up where the session is.
                logger.LogWarning("Lost the cluster ({Message}); re-attaching", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1 + attempt), stopping);
                try { if (!(await edge.AttachAsync()).Generating) break; } catch (Exception again) { logger.LogWarning("Re-attach failed: {Message}", again.Message); }
            }
        }
        Console.WriteLine(text.Flush());
        if (stats is not null)
            Console.WriteLine($"  ({stats.Tokens} tokens, {stats.Steps} steps, {stats.TokensPerStep:F2} tokens/step, {stats.Tokens / Math.Max(1e-9, stats.WallSeconds):F1} tokens/s, proactive hits {stats.ProactiveHits}/{stats.ProactiveHits + stats.ProactiveMisses})");
    }
}
