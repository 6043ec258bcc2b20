using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// The OpenAI-compatible routes: <c>GET /v1/models</c>, <c>POST /v1/chat/completions</c>, <c>POST /v1/completions</c>.
/// Every route needs <c>Authorization: Bearer &lt;key&gt;</c>; the <see cref="IOpenAiBackend"/> registered in DI decides
/// what a key may do. Errors have OpenAI's shape; a reply that fails mid-stream ends with an error event.
/// </summary>
public static class OpenAiEndpoints
{
    public const string SessionHeader = "X-SpecEdge-Session";
    /// <summary>Response header naming the request fields this server did not know and ignored.</summary>
    public const string IgnoredFieldsHeader = "X-SpecEdge-Ignored-Fields";
    /// <summary>Whether a client should retry a refused request (the official OpenAI clients obey it).</summary>
    public const string ShouldRetryHeader = "x-should-retry";
    /// <summary>The CORS policy of the API's routes (<see cref="OpenAiOptions.CorsOrigins"/>).</summary>
    private const string CorsPolicy = "openai";

    public static IServiceCollection AddOpenAiApi<TBackend>(this IServiceCollection services, Microsoft.Extensions.Configuration.IConfiguration configuration)
        where TBackend : class, IOpenAiBackend
    {
        services.AddOptions<OpenAiOptions>().Bind(configuration.GetSection(OpenAiOptions.Section));
        services.AddSingleton<IOpenAiBackend, TBackend>();
        services.AddSingleton<ApiKeyRateLimiter>();
        services.AddSingleton<AddressFailureLimiter>();
        services.AddCors();
        services.AddOptions<Microsoft.AspNetCore.Cors.Infrastructure.CorsOptions>().Configure<IOptions<OpenAiOptions>>((cors, api) =>
            cors.AddPolicy(CorsPolicy, policy =>
            {
                var origins = api.Value.CorsOrigins;
                if (origins.Contains("*")) policy.AllowAnyOrigin(); else policy.WithOrigins(origins);
                // The official clients send their own headers (x-stainless-*, OpenAI-Organization, ...): any header may come.
                policy.WithMethods("GET", "POST").AllowAnyHeader()
                    .WithExposedHeaders(SessionHeader, IgnoredFieldsHeader, ShouldRetryHeader, "Retry-After")
                    .SetPreflightMaxAge(TimeSpan.FromMinutes(10));
            }));
        return services;
    }

    /// <summary>
    /// Cross-origin requests from the browser apps at <see cref="OpenAiOptions.CorsOrigins"/> to the API's routes
    /// (<c>/v1/...</c>), preflights answered; nothing when none are configured (the default: browsers refuse
    /// cross-origin calls). Call before the routes are mapped.
    /// </summary>
    public static IApplicationBuilder UseOpenAiCors(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<OpenAiOptions>>().Value;
        options.Validate();
        if (options.CorsOrigins.Length == 0) return app;
        return app.UseWhen(c => c.Request.Path.StartsWithSegments("/v1"), branch => branch.UseCors(CorsPolicy));
    }

    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/models", context => RunAsync(context, (backend, _, _) =>
            JsonAsync(context, 200, new ModelList(backend.ModelIds.Select(id => new ModelCard(id, 0, "specedge")).ToArray()))));
        app.MapGet("/v1/models/{id}", context => RunAsync(context, (backend, _, _) =>
        {
            string id = (string)context.Request.RouteValues["id"]!;
            RequestValidator.Model(id, backend.ModelIds);
            return JsonAsync(context, 200, new ModelCard(id, 0, "specedge"));
        }));
        app.MapPost("/v1/chat/completions", context => RunAsync(context, async (backend, caller, options) =>
        {
            var request = await ReadAsync<ChatCompletionRequest>(context, options);
            var job = RequestValidator.Chat(request, context.Request.Headers[SessionHeader].FirstOrDefault(), backend.ModelIds, options);
            NameIgnoredFields(context, job);
            await ReplyWriter.WriteAsync(context, backend, caller, job);
        }));
        app.MapPost("/v1/completions", context => RunAsync(context, async (backend, caller, options) =>
        {
            var request = await ReadAsync<CompletionRequest>(context, options);
            var job = RequestValidator.Completion(request, backend.ModelIds, options);
            NameIgnoredFields(context, job);
            await ReplyWriter.WriteAsync(context, backend, caller, job);
        }));
        // Wrong methods and unknown paths answer in OpenAI's error shape too (clients parse error bodies).
        foreach (var (path, allowed) in new[] { ("/v1/models", "GET"), ("/v1/models/{id}", "GET"), ("/v1/chat/completions", "POST"), ("/v1/completions", "POST") })
            app.MapMethods(path, new[] { "GET", "POST", "PUT", "PATCH", "DELETE" }.Where(m => m != allowed), context =>
            {
                context.Response.Headers.Allow = allowed;
                return JsonAsync(context, 405, new OpenAiException(405, $"{context.Request.Method} is not allowed on {context.Request.Path}; use {allowed}.", type: "invalid_request_error", code: "method_not_allowed").ToResponse());
            });
        app.MapFallback("/v1/{**rest}", context =>
            JsonAsync(context, 404, new OpenAiException(404, $"There is no endpoint {context.Request.Method} {context.Request.Path} on this server.", type: "invalid_request_error", code: "unknown_url").ToResponse()));
        return app;
    }

    /// <summary>
    /// Names the request fields that were ignored (lenient parameters) in a header, and logs them at debug level. The
    /// names are the caller's: only plain ones are echoed (no control characters can reach a header), at most
    /// <see cref="MaxIgnoredFieldsNamed"/> of them, each at most 64 characters.
    /// </summary>
    private static void NameIgnoredFields(HttpContext context, ReplyJob job)
    {
        if (job.IgnoredFields.Count == 0) return;
        var named = job.IgnoredFields.Take(MaxIgnoredFieldsNamed)
            .Select(f => f.Length <= 64 && f.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '[' or ']') ? f : "(a field with an unusual name)")
            .ToList();
        if (job.IgnoredFields.Count > MaxIgnoredFieldsNamed) named.Add($"and {job.IgnoredFields.Count - MaxIgnoredFieldsNamed} more");
        string list = string.Join(", ", named);
        context.Response.Headers[IgnoredFieldsHeader] = list;
        context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OpenAiEndpoints))
            .LogDebug("{Path}: ignored request fields {Fields}", context.Request.Path, list);
    }

    private const int MaxIgnoredFieldsNamed = 16;

    /// <summary>
    /// Runs one authenticated route: the per-address failure limit, the key, the per-key limit, then
    /// <paramref name="handle"/>; refusals in OpenAI's error shape. Public so that a host's own routes (the silo's edge
    /// enrolment) are metered and authenticated exactly as the API's.
    /// </summary>
    public static async Task RunAsync(HttpContext context, Func<IOpenAiBackend, OpenAiCaller, OpenAiOptions, Task> handle)
    {
        var backend = context.RequestServices.GetRequiredService<IOpenAiBackend>();
        var options = context.RequestServices.GetRequiredService<IOptions<OpenAiOptions>>().Value;
        var failures = context.RequestServices.GetRequiredService<AddressFailureLimiter>();
        var address = context.Connection.RemoteIpAddress;
        bool charged = false;
        try
        {
            if (!failures.TryEnter(address, out var wait))
            {
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                throw new OpenAiException(429, $"Too many failed requests from this address: at most {options.MaxFailedRequestsPerSecondPerAddress:G} a second (OpenAi:MaxFailedRequestsPerSecondPerAddress); retry after the Retry-After header's seconds.",
                    type: "requests", code: "rate_limit_exceeded");
            }
            OpenAiCaller caller;
            try { caller = backend.Authenticate(ApiKey(context.Request)); }
            catch (OpenAiException e) when (AddressFailureLimiter.Counts(e.Status))
            {
                failures.Failed(address);   // charged before it leaves, so concurrent requests see the charge
                charged = true;
                throw;
            }
            finally { failures.Leave(address); }
            if (!context.RequestServices.GetRequiredService<ApiKeyRateLimiter>().TryAcquire(caller, out var retryAfter))
            {
                context.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
                throw new OpenAiException(429, $"Too many requests with this API key: at most {options.MaxRequestsPerSecondPerKey:G} a second (OpenAi:MaxRequestsPerSecondPerKey); retry after the Retry-After header's seconds.",
                    type: "requests", code: "rate_limit_exceeded");
            }
            await handle(backend, caller, options);
        }
        catch (OpenAiException e) when (!context.Response.HasStarted)
        {
            if (AddressFailureLimiter.Counts(e.Status) && !charged) failures.Failed(address);
            if (e.Status == 401) context.Response.Headers.WWWAuthenticate = "Bearer";
            if (e.ShouldRetry is bool retry) context.Response.Headers[ShouldRetryHeader] = retry ? "true" : "false";
            await JsonAsync(context, e.Status, e.ToResponse());
        }
        catch (Exception e) when (!context.Response.HasStarted && SessionRefusals.Unavailable(e) is { } unavailable)
        {
            // The same refusal as at the start of a reply, here while it was read (seen as a 500 in a soak's silo kill).
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OpenAiEndpoints))
                .LogWarning("{Method} {Path}: the conversation's silo became unavailable ({Type})", context.Request.Method, context.Request.Path, e.GetType().Name);
            context.Response.Headers.RetryAfter = "2";
            await JsonAsync(context, unavailable.Status, unavailable.ToResponse());
        }
        catch (Exception e) when (!context.Response.HasStarted && e is not OperationCanceledException)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(OpenAiEndpoints))
                .LogError(e, "{Method} {Path} failed", context.Request.Method, context.Request.Path);
            await JsonAsync(context, 500, new OpenAiException(500, "The server failed to handle the request; try again.", type: "server_error").ToResponse());
        }
    }

    /// <summary>The bearer token; 401 in OpenAI's words when there is none.</summary>
    private static string ApiKey(HttpRequest request)
    {
        string? header = request.Headers.Authorization.FirstOrDefault();
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length <= "Bearer ".Length)
            throw new OpenAiException(401, "You didn't provide an API key. Send it in the Authorization header as 'Bearer <key>'.", code: "invalid_api_key");
        return header["Bearer ".Length..].Trim();
    }

    /// <summary>The request body as <typeparamref name="T"/>, bounded by <c>OpenAi:MaxRequestBytes</c>; 400/413 naming the field at fault.</summary>
    public static async Task<T?> ReadAsync<T>(HttpContext context, OpenAiOptions options) where T : class
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = options.MaxRequestBytes;
        try
        {
            return await JsonSerializer.DeserializeAsync<T>(context.Request.Body, OpenAiJson.Options, context.RequestAborted);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new OpenAiException(413, $"The request body is larger than {options.MaxRequestBytes} bytes (OpenAi:MaxRequestBytes).", "body");
        }
        catch (JsonException e)
        {
            string param = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "body";
            throw OpenAiException.BadRequest(param, $"The request body is not valid JSON for this endpoint at '{e.Path ?? "$"}': {e.Message.Split(" Path:")[0]}");
        }
    }

    public static Task JsonAsync<T>(HttpContext context, int status, T body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        return context.Response.Body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(body, OpenAiJson.Options), context.RequestAborted).AsTask();
    }
}
