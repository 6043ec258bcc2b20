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
            if (context.Request.Path.StartsWithSegments(Path) && OperatorHttpAuth.Refusal(context, "metrics") is { } refusal)
            {
                await OperatorHttpAuth.RefuseAsync(context, refusal, basic: false);
                return;
            }
            await next();
        });
        app.MapPrometheusScrapingEndpoint(Path);
        return app;
    }
}
