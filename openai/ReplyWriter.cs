using System.Text;
using Microsoft.AspNetCore.Http;
using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// Runs a job on the backend and writes its reply in the endpoint's shape: a whole chat completion or text completion,
/// or their Server-Sent Event chunks. The conversation is offered for reuse (<see cref="ReplyRun.CompleteAsync"/>)
/// before the last byte reaches the client, so a follow-up sent right after <c>[DONE]</c> finds it.
/// </summary>
internal static class ReplyWriter
{
    public static async Task WriteAsync(HttpContext context, IOpenAiBackend backend, OpenAiCaller caller, ReplyJob job)
    {
        var cancel = context.RequestAborted;
        await using var run = await backend.StartAsync(caller, job, cancel);
        context.Response.Headers[OpenAiEndpoints.SessionHeader] = run.SessionId;
        string id = (job.IsChat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
        long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            if (job.Stream) await StreamAsync(context, run, job, id, created, cancel);
            else await WholeAsync(context, run, job, id, created, cancel);
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            // The client is gone: stop the reply instead of generating the rest for nobody (best effort: if the cluster
            // cannot be told, the reply runs to its end there and harms nothing).
            try { await run.StopAsync(); }
            catch (Exception stop) when (stop is not OutOfMemoryException) { _ = stop; }
        }
    }

    private static async Task WholeAsync(HttpContext context, ReplyRun run, ReplyJob job, string id, long created, CancellationToken cancel)
    {
        var text = new StringBuilder();
        int tokens = 0;
        ReplyFinish? reason = null;
        await foreach (var chunk in run.ReadAsync(cancel))
        {
            text.Append(chunk.Text);
            tokens += chunk.Tokens.Length;
            if (chunk.Final) reason = chunk.FinishReason;
            if (reason == ReplyFinish.Error)
                throw new OpenAiException(500, "The reply failed: " + (chunk.Error ?? "server error"), type: "server_error");
        }
        string reply = text.ToString();
        await run.CompleteAsync(reply);
        var usage = Usage.Of(run.PromptTokens, run.CachedTokens, tokens);
        string finish = FinishReasons.ToOpenAi(reason);
        if (job.IsChat)
            await OpenAiEndpoints.JsonAsync(context, 200, new ChatCompletionResponse(id, created, job.Model,
                new[] { new ChatChoice(0, new AssistantMessage(reply), finish) }, usage));
        else
            await OpenAiEndpoints.JsonAsync(context, 200, new CompletionResponse(id, created, job.Model,
                new[] { new TextChoice(0, reply, finish) }, usage));
    }

    private static async Task StreamAsync(HttpContext context, ReplyRun run, ReplyJob job, string id, long created, CancellationToken cancel)
    {
        var events = new ServerSentEvents(context.Response);
        events.Start();
        if (job.IsChat)
            await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(0, new ChunkDelta("assistant", ""), null) }), cancel);
        var text = new StringBuilder();
        int tokens = 0;
        ReplyFinish? reason = null;
        await foreach (var chunk in run.ReadAsync(cancel))
        {
            tokens += chunk.Tokens.Length;
            if (chunk.Final) reason = chunk.FinishReason;
            if (reason == ReplyFinish.Error)
            {
                // OpenAI's clients raise an error event as an API error.
                await events.WriteAsync(new OpenAiException(500, "The reply failed: " + (chunk.Error ?? "server error"), type: "server_error").ToResponse(), cancel);
                return;
            }
            string? finish = chunk.Final ? FinishReasons.ToOpenAi(reason) : null;
            if (chunk.Text.Length == 0 && finish is null) continue;
            text.Append(chunk.Text);
            if (chunk.Final) await run.CompleteAsync(text.ToString());
            if (job.IsChat)
            {
                if (chunk.Text.Length > 0)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(0, new ChunkDelta(Content: chunk.Text), null) }), cancel);
                if (finish is not null)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(0, new ChunkDelta(), finish) }), cancel);
            }
            else
            {
                await events.WriteAsync(new CompletionResponse(id, created, job.Model, new[] { new TextChoice(0, chunk.Text, finish) }, null), cancel);
            }
        }
        if (job.IncludeUsage)
        {
            var usage = Usage.Of(run.PromptTokens, run.CachedTokens, tokens);
            if (job.IsChat) await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, Array.Empty<ChunkChoice>(), usage), cancel);
            else await events.WriteAsync(new CompletionResponse(id, created, job.Model, Array.Empty<TextChoice>(), usage), cancel);
        }
        await events.DoneAsync(cancel);
    }
}
