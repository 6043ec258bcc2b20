using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SpecEdge.Silo;

/// <summary>The silo's HTTP side: Kestrel's address and the health endpoints probes use.</summary>
public static class SiloHttpExtensions
{
    /// <summary>Where the silo listens when neither <c>urls</c> (<c>--urls</c>, <c>ASPNETCORE_URLS</c>) nor ports nor Kestrel endpoints are configured.</summary>
    public const string DefaultUrl = "http://127.0.0.1:8080";

    /// <summary>Loopback by default: a silo exposes HTTP on other interfaces only where configured (containers set ASPNETCORE_URLS).</summary>
    public static WebApplicationBuilder UseSpecEdgeHttpDefaults(this WebApplicationBuilder builder)
    {
        var c = builder.Configuration;
        bool configured = !string.IsNullOrWhiteSpace(c["urls"]) || !string.IsNullOrWhiteSpace(c["http_ports"])
            || !string.IsNullOrWhiteSpace(c["https_ports"]) || c.GetSection("Kestrel:Endpoints").Exists();
        if (!configured) builder.WebHost.UseUrls(DefaultUrl);
        return builder;
    }

    /// <summary>Model warm-up at start and the health checks behind <c>/health/live</c> and <c>/health/ready</c>.</summary>
    public static IServiceCollection AddSpecEdgeHealth(this IServiceCollection services)
    {
        services.AddSingleton<ModelWarmup>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelWarmup>());
        services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy(), tags: ["live"])
            .AddCheck<SiloReadinessHealthCheck>("silo", tags: ["ready"]);
        return services;
    }

    /// <summary>
    /// <c>/health/live</c>: the process answers (restart it if not). <c>/health/ready</c>: models loaded and silo Active
    /// (route sessions and traffic to it). Unauthenticated on purpose, as probes are: they answer only a status word.
    /// </summary>
    public static WebApplication MapSpecEdgeHealth(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = check => check.Tags.Contains("live") });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        return app;
    }
}
