using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Http;
using SpecEdge.Contracts;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.OpenAi;

/// <summary>
/// Runs a job on the backend and writes its reply in the endpoint's shape: a whole chat completion or text completion,
/// or their Server-Sent Event chunks. The conversation is offered for reuse (<see cref="ReplyRun.CompleteAsync"/>)
/// before the last byte reaches the client, so a follow-up sent right after <c>[DONE]</c> finds it.
/// <para>
/// <c>n</c> &gt; 1: each choice is a reply of its own conversation (a fork of the same history), started one after the
/// other so that the first continues a reused conversation and the others fork from it, and decoded side by side (the
/// verifier batches them). Choice i samples with the request's seed + i, so choice 0 is what <c>n</c> = 1 gives and the
/// whole response is reproducible with a seed. Every choice is offered for reuse: a follow-up continues whichever
/// the client kept.
/// </para>
/// </summary>
internal static class ReplyWriter
{
    public static async Task WriteAsync(HttpContext context, IOpenAiBackend backend, OpenAiCaller caller, ReplyJob job)
    {
        var cancel = context.RequestAborted;
        var runs = new List<ReplyRun>();
        try
        {
            for (int i = 0; i < job.Choices; i++) runs.Add(await backend.StartAsync(caller, ForChoice(job, i), cancel));
            context.Response.Headers[OpenAiEndpoints.SessionHeader] = runs[0].SessionId;
            string id = (job.IsChat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");
            long created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            // A model whose format renders no tools never got any (the session refuses them), so its text is read as ChatML's.
            var syntax = backend.ToolCalls ?? ToolCallSyntax.ChatMl;
            if (job.Stream) await StreamAsync(context, runs, job, syntax, id, created, cancel);
            else await WholeAsync(context, runs, job, syntax, id, created, cancel);
        }
        catch (Exception) when (cancel.IsCancellationRequested)
        {
            // The client is gone: stop the replies instead of generating the rest for nobody (best effort: if the cluster
            // cannot be told, a reply runs to its end there and harms nothing).
            await StopAllAsync(runs);
        }
        catch (Exception)
        {
            // A choice failed to start or failed: the others must not go on generating for a request that failed.
            await StopAllAsync(runs);
            throw;
        }
        finally
        {
            foreach (var run in runs) await run.DisposeAsync();
        }
    }

    /// <summary>The job of choice <paramref name="index"/>: its own seed (the request's + index), and a fork of its own.</summary>
    private static ReplyJob ForChoice(ReplyJob job, int index) => index == 0 ? job : job with
    {
        Settings = job.Settings with { Seed = job.Settings.Seed is ulong seed ? unchecked(seed + (ulong)index) : null },
        SessionId = null,
    };

    private static async Task StopAllAsync(IEnumerable<ReplyRun> runs)
    {
        foreach (var run in runs)
        {
            try { await run.StopAsync(); }
            catch (Exception stop) when (stop is not OutOfMemoryException) { _ = stop; }
        }
    }

    private static async Task WholeAsync(HttpContext context, List<ReplyRun> runs, ReplyJob job, ToolCallSyntax syntax, string id, long created, CancellationToken cancel)
    {
        bool asked = job.Settings.Logprobs >= 0, withTop = job.Settings.Logprobs > 0;
        var replies = await Task.WhenAll(runs.Select(async run =>
        {
            var text = new StringBuilder();
            var logprobs = new List<ReplyLogprob>();
            int tokens = 0;
            ReplyFinish? reason = null;
            await foreach (var chunk in run.ReadAsync(cancel))
            {
                text.Append(chunk.Text);
                logprobs.AddRange(chunk.Logprobs ?? []);
                tokens += chunk.Tokens.Length;
                if (chunk.Final) reason = chunk.FinishReason;
                if (reason == ReplyFinish.Error)
                    throw new OpenAiException(500, "The reply failed: " + (chunk.Error ?? "server error"), type: "server_error");
            }
            string reply = text.ToString();
            await run.CompleteAsync(reply);
            return (Text: reply, Tokens: tokens, Finish: FinishReasons.ToOpenAi(reason), Logprobs: logprobs);
        }));
        // OpenAI counts the prompt once and the completions of every choice.
        var usage = Usage.Of(runs[0].PromptTokens, runs[0].CachedTokens, replies.Sum(r => r.Tokens));
        if (job.IsChat)
            await OpenAiEndpoints.JsonAsync(context, 200, new ChatCompletionResponse(id, created, job.Model,
                replies.Select((r, i) => Choice(i, r.Text, r.Finish, asked ? LogprobsFormat.Chat(r.Logprobs) : null, job, syntax)).ToArray(), usage));
        else
            await OpenAiEndpoints.JsonAsync(context, 200, new CompletionResponse(id, created, job.Model,
                replies.Select((r, i) => new TextChoice(i, r.Text, r.Finish, asked ? LogprobsFormat.Completion(r.Logprobs, 0, withTop) : null)).ToArray(), usage));
    }

    /// <summary>A whole chat choice: with tools, the reply's function calls come out of its text into tool_calls.</summary>
    private static ChatChoice Choice(int index, string text, string finish, ChatLogprobs? logprobs, ReplyJob job, ToolCallSyntax syntax)
    {
        if (!job.CallsTools) return new ChatChoice(index, new AssistantMessage(text), finish, logprobs);
        var (content, calls) = ToolCallText.Split(text, syntax);
        return calls.Length == 0 ? new ChatChoice(index, new AssistantMessage(text), finish, logprobs)
            : new ChatChoice(index, new AssistantMessage(content, calls), "tool_calls", logprobs);
    }

    private static async Task StreamAsync(HttpContext context, List<ReplyRun> runs, ReplyJob job, ToolCallSyntax syntax, string id, long created, CancellationToken cancel)
    {
        var events = new ServerSentEvents(context.Response);
        events.Start();
        if (job.IsChat)
            for (int i = 0; i < runs.Count; i++)
                await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(i, new ChunkDelta("assistant", ""), null) }), cancel);
        // The choices' chunks, in the order they are committed, each with its choice's index.
        var merged = Channel.CreateUnbounded<(int Index, ReplyChunk Chunk)>(new UnboundedChannelOptions { SingleReader = true });
        var pumps = runs.Select(async (run, index) =>
        {
            await foreach (var chunk in run.ReadAsync(cancel)) await merged.Writer.WriteAsync((index, chunk), cancel);
        }).ToList();
        _ = Task.WhenAll(pumps).ContinueWith(t => merged.Writer.TryComplete(t.Exception?.InnerException), TaskScheduler.Default);

        var texts = runs.Select(_ => new StringBuilder()).ToArray();
        var heldLogprobs = runs.Select(_ => new List<ReplyLogprob>()).ToArray();
        // Calls stream as OpenAI streams them (name first, then arguments as written); with logprobs asked for, a reply
        // that may call tools is held to its end instead, since a token's logprob belongs to content, not to a call.
        // Llama 3.1 and Mistral write a reply that is all calls or none: one that may be calls is held to its end.
        var toolStreams = job.IsChat && job.CallsTools && job.Settings.Logprobs < 0
            ? runs.Select(_ => syntax.Kind == ChatFormatKind.ChatMl ? new ToolCallStream() : (IToolCallStream)new WholeReplyToolStream(syntax)).ToArray() : null;
        int tokens = 0;
        bool asked = job.Settings.Logprobs >= 0;
        await foreach (var (index, chunk) in merged.Reader.ReadAllAsync(cancel))
        {
            tokens += chunk.Tokens.Length;
            var reason = chunk.Final ? chunk.FinishReason : null;
            if (reason == ReplyFinish.Error)
            {
                // OpenAI's clients raise an error event as an API error.
                await events.WriteAsync(new OpenAiException(500, "The reply failed: " + (chunk.Error ?? "server error"), type: "server_error").ToResponse(), cancel);
                await StopAllAsync(runs);
                return;
            }
            string? finish = chunk.Final ? FinishReasons.ToOpenAi(reason) : null;
            // A chunk whose text is held back (a possible stop string, half a character) still carries its tokens' logprobs.
            var logprobs = asked && chunk.Logprobs is { Length: > 0 } l ? l : null;
            if (chunk.Text.Length == 0 && finish is null && logprobs is null) continue;
            int offset = texts[index].Length;
            texts[index].Append(chunk.Text);
            if (chunk.Final) await runs[index].CompleteAsync(texts[index].ToString());
            if (toolStreams is not null)
            {
                foreach (var delta in toolStreams[index].Push(chunk.Text, chunk.Final))
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index, delta, null) }), cancel);
                if (finish is not null)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index, new ChunkDelta(), toolStreams[index].AnyCall && !toolStreams[index].EndedInsideACall ? "tool_calls" : finish) }), cancel);
                continue;
            }
            if (job.IsChat && job.CallsTools)
            {
                // Held until it ends (logprobs asked for): only then is it known which text is a call.
                if (logprobs is not null) heldLogprobs[index].AddRange(logprobs);
                if (finish is null) continue;
                var (content, calls) = ToolCallText.Split(texts[index].ToString(), syntax);
                if (calls.Length == 0) content = texts[index].ToString();
                if (content is { Length: > 0 } || heldLogprobs[index].Count > 0)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index, new ChunkDelta(Content: content ?? ""), null,
                        heldLogprobs[index].Count > 0 ? LogprobsFormat.Chat(heldLogprobs[index]) : null) }), cancel);
                if (calls.Length > 0)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index,
                        new ChunkDelta(ToolCalls: calls.Select(ToolCallDelta.Of).ToArray()), null) }), cancel);
                await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index, new ChunkDelta(), calls.Length > 0 ? "tool_calls" : finish) }), cancel);
                continue;
            }
            if (job.IsChat)
            {
                if (chunk.Text.Length > 0 || logprobs is not null)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index, new ChunkDelta(Content: chunk.Text), null,
                        logprobs is null ? null : LogprobsFormat.Chat(logprobs)) }), cancel);
                if (finish is not null)
                    await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, new[] { new ChunkChoice(index, new ChunkDelta(), finish) }), cancel);
            }
            else
            {
                await events.WriteAsync(new CompletionResponse(id, created, job.Model, new[] { new TextChoice(index, chunk.Text, finish,
                    logprobs is null ? null : LogprobsFormat.Completion(logprobs, offset, job.Settings.Logprobs > 0)) }, null), cancel);
            }
        }
        if (job.IncludeUsage)
        {
            var usage = Usage.Of(runs[0].PromptTokens, runs[0].CachedTokens, tokens);
            if (job.IsChat) await events.WriteAsync(new ChatCompletionChunk(id, created, job.Model, Array.Empty<ChunkChoice>(), usage), cancel);
            else await events.WriteAsync(new CompletionResponse(id, created, job.Model, Array.Empty<TextChoice>(), usage), cancel);
        }
        await events.DoneAsync(cancel);
    }
}
