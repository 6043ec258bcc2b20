using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Orleans.Dashboard;

namespace SpecEdge.Silo;

/// <summary>
/// The Orleans Dashboard (Microsoft.Orleans.Dashboard) on the silo's HTTP port at <c>/dashboard</c>, for operators only
/// (<see cref="OperatorHttpAuth"/>: a browser asks for the operator credential as the Basic password). Off unless
/// <c>Dashboard:Enabled</c> is true: its profiler wraps every grain call, which a busy verifier silo need not pay for.
/// Its grains are silo-internal, so the grain call policy already refuses them to every client.
/// </summary>
public static class SiloDashboardExtensions
{
    public const string Path = "/dashboard";

    public static bool Enabled(IConfiguration configuration) => configuration.GetValue("Dashboard:Enabled", false);

    public static ISiloBuilder AddSpecEdgeDashboard(this ISiloBuilder silo, IConfiguration configuration) =>
        Enabled(configuration) ? silo.AddDashboard() : silo;

    public static WebApplication MapSpecEdgeDashboard(this WebApplication app)
    {
        if (!Enabled(app.Configuration)) return app;
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments(Path) && OperatorHttpAuth.Refusal(context, "the dashboard") is { } refusal)
            {
                await OperatorHttpAuth.RefuseAsync(context, refusal, basic: true);
                return;
            }
            await next();
        });
        app.MapOrleansDashboard(routePrefix: Path);
        return app;
    }
}
