using System.Text;
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
public sealed class ConsoleChat(IClusterClient client, IOptions<EdgeHostOptions> options, IOptions<ClientCredentialOptions> credential, IHostApplicationLifetime lifetime, ILogger<ConsoleChat> logger) : BackgroundService
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
        var enrolled = credential.Value.TokenFile is { Length: > 0 } file ? CredentialCodec.ReadUnverified(File.ReadAllText(file).Trim()) : null;
        string sessionId = !string.IsNullOrWhiteSpace(_o.Session) ? _o.Session
            : enrolled?.ConversationId ?? "local/chat-" + Guid.NewGuid().ToString("N")[..10];
        string edgeId = _o.EdgeId ?? enrolled?.EdgeId ?? $"{Environment.MachineName}-{Environment.ProcessId}";
        var tree = _o.Tree();
        using var edge = new EdgeSession(client, draft, sessionId, edgeId, tree, capacity: 4096, _o.Transport)
            { EmulatedDraftTime = TimeSpan.FromMilliseconds(_o.DraftDelayMs) };
        var session = client.GetGrain<ISessionGrain>(sessionId);
        var existing = await session.GetAsync();
        if (existing.Messages.Length == 0 || !string.IsNullOrWhiteSpace(_o.Prompt))
            await session.ConfigureAsync(new GenerationSettings
            {
                Temperature = _o.Temperature, TopK = _o.TopK, TopP = _o.TopP, Seed = _o.Seed, MaxNewTokens = _o.MaxNewTokens,
                UseChatTemplate = !_o.Raw, SystemPrompt = _o.SystemPrompt,
            });
        var attachment = await edge.AttachAsync();
        Console.WriteLine($"session {sessionId} ({existing.Messages.Length} earlier messages{(existing.Silo is null ? "" : $", on silo {existing.Silo}")}); edge {edgeId}");
        foreach (var m in existing.Messages) Console.WriteLine($"[{m.Role}] {m.Content}");
        if (attachment.Generating) await ShowReplyAsync(edge, tokenizer, stopping);   // resume a reply in progress

        if (!string.IsNullOrWhiteSpace(_o.Prompt))
        {
            Console.WriteLine($"[user] {_o.Prompt}");
            await edge.SendAsync(_o.Prompt);
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
            await edge.SendAsync(line);
            await ShowReplyAsync(edge, tokenizer, stopping);
        }
        await edge.DetachAsync();
        Console.WriteLine($"bye; resume with --session {sessionId}");
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
