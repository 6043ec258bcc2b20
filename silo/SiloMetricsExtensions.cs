using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;

namespace SpecEdge.Silo;

/// <summary>
/// OpenTelemetry metrics of the silo (Orleans' meter "Microsoft.Orleans" and ours, <see cref="SpecEdgeMetrics"/>) on a
/// Prometheus scrape endpoint, <c>/metrics</c>. Deny by default like every other way in: a scrape needs an operator
/// credential as a bearer token (Prometheus: <c>authorization: { credentials_file: ... }</c>), since metrics name
/// silos, verifiers and load.
/// </summary>
public static class SiloMetricsExtensions
{
    public const string Path = "/metrics";

    public static IServiceCollection AddSpecEdgeMetrics(this IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter("Microsoft.Orleans", SpecEdgeMetrics.MeterName)
            .AddPrometheusExporter());
        return services;
    }

    public static WebApplication MapSpecEdgeMetrics(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(Path) && Refusal(context) is { } refusal)
            {
                context.Response.StatusCode = refusal.Status;
                context.Response.Headers.WWWAuthenticate = "Bearer";
                await context.Response.WriteAsync(refusal.Message);
                return;
            }
            await next();
        });
        app.MapPrometheusScrapingEndpoint(Path);
        return app;
    }

    private static (int Status, string Message)? Refusal(HttpContext context)
    {
        string header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return (StatusCodes.Status401Unauthorized, "metrics need an operator credential: Authorization: Bearer <token>\n");
        var credentials = context.RequestServices.GetRequiredService<VerifiedCredentials>();
        if (!credentials.TryVerify(header["Bearer ".Length..].Trim(), out var credential, out var error))
            return (StatusCodes.Status401Unauthorized, $"credential refused: {error}\n");
        return credential!.Role == CredentialRole.Operator ? null
            : (StatusCodes.Status403Forbidden, "metrics are for operator credentials only\n");
    }
}
