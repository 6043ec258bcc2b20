using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace SpecEdge.OpenAi;

/// <summary>Writes a streamed reply as OpenAI does: <c>data: {json}\n\n</c> per event, flushed at once, and <c>data: [DONE]\n\n</c> at the end.</summary>
public sealed class ServerSentEvents(HttpResponse response)
{
    private static readonly byte[] Prefix = "data: "u8.ToArray();
    private static readonly byte[] Separator = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    public void Start()
    {
        response.StatusCode = 200;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        // Proxies that buffer (nginx) would hold the tokens back.
        response.Headers["X-Accel-Buffering"] = "no";
    }

    public async Task WriteAsync<T>(T payload, CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Prefix, cancellationToken);
        await response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(payload, OpenAiJson.Options), cancellationToken);
        await response.Body.WriteAsync(Separator, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }

    public async Task DoneAsync(CancellationToken cancellationToken)
    {
        await response.Body.WriteAsync(Done, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
