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
        if (attachment.Generating) await ShowReplyAsync(edge, gateway, tokenizer, stopping);   // resume a reply in progress

        if (!string.IsNullOrWhiteSpace(_o.Prompt))
        {
            Console.WriteLine($"[user] {_o.Prompt}");
            await SendAsync(edge, gateway is not null, _o.Prompt, settings);
            await ShowReplyAsync(edge, gateway, tokenizer, stopping);
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
            await ShowReplyAsync(edge, gateway, tokenizer, stopping);
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

    /// <summary>
    /// Drafts the reply in progress and shows it. Over the edge gateway the text shown is the session's reply stream, as
    /// the OpenAI API's: the steps of a hand-back (runs of up to SpecEdge:HandBackMaxMilliseconds that the server decodes
    /// while this edge waits for its verdict) appear as the server commits them, not in one burst with the verdict, and stop strings are cut as
    /// the session cuts them. Over Orleans (where an edge may not read the stream) it shows the tokens this edge commits.
    /// </summary>
    private async Task ShowReplyAsync(EdgeSession edge, GatewayEdgeLink? gateway, HfTokenizer tokenizer, CancellationToken stopping)
    {
        var text = gateway is null ? new StreamingDetokenizer(tokenizer, skipSpecialTokens: true) : null;
        Console.Write("[assistant] ");
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        var shown = gateway is null ? Task.CompletedTask : PrintReplyStreamAsync(gateway, reading.Token);
        ReplyStats? stats = null;
        for (int attempt = 0; stats is null; attempt++)
        {
            try { stats = await edge.RunReplyAsync(text is null ? null : tokens => Console.Write(text.Push(tokens)), stopping); }
            catch (Exception e) when (e is not OperationCanceledException && attempt < 10)
            {
                // Gateway gone or the cluster busy: wait, re-attach, and pick the reply up where the session is.
                logger.LogWarning("Lost the cluster ({Message}); re-attaching", e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1 + attempt), stopping);
                try { if (!(await edge.AttachAsync()).Generating) break; } catch (Exception again) { logger.LogWarning("Re-attach failed: {Message}", again.Message); }
            }
        }
        if (text is not null) Console.WriteLine(text.Flush());
        else
        {
            // The stream's last chunk follows the last step's durable write: moments after the drafting ends.
            try { await shown.WaitAsync(TimeSpan.FromSeconds(30), stopping); }
            catch (TimeoutException) { logger.LogWarning("The reply stream did not end within 30 s of the last step; not waiting for it"); }
            finally { reading.Cancel(); }
            Console.WriteLine();
        }
        if (stats is not null)
            Console.WriteLine($"  ({stats.Tokens} tokens, {stats.Steps} steps, {stats.TokensPerStep:F2} tokens/step, {stats.Tokens / Math.Max(1e-9, stats.WallSeconds):F1} tokens/s, proactive hits {stats.ProactiveHits}/{stats.ProactiveHits + stats.ProactiveMisses})");
    }

    /// <summary>Prints the reply's chunks as the session publishes them, picking the stream up again where it broke.</summary>
    private async Task PrintReplyStreamAsync(GatewayEdgeLink gateway, CancellationToken cancellation)
    {
        int next = 0;
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await foreach (var chunk in gateway.StreamReplyAsync(next, cancellation))
                {
                    Console.Write(chunk.Text);
                    next = chunk.Index + 1;
                    if (!chunk.Final) continue;
                    if (chunk.Error is { } error) Console.Write($" [reply failed: {error}]");
                    return;
                }
                return;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested) { return; }
            catch (Exception e) when (e is not GatewayRejectionException && attempt < 10)
            {
                logger.LogWarning("Lost the reply stream ({Message}); reading it again from chunk {Chunk}", e.Message, next);
                try { await Task.Delay(TimeSpan.FromSeconds(1 + attempt), cancellation); } catch (OperationCanceledException) { return; }
            }
            catch (Exception e)
            {
                logger.LogWarning("Cannot read the reply stream ({Message}); the rest of the reply is not shown", e.Message);
                return;
            }
        }
    }
}
