using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;

namespace SpecEdge.EdgeHost;

/// <summary>
/// What every edge host process sets up, whatever it runs (console chat, <c>--serve</c>, or a load of many edges in
/// tests/SpecEdge.EdgeLoad): settings from appsettings.json, environment and the command line (<paramref name="switches"/>),
/// logging, the start-up banner, metrics, and the Orleans client with its credential and TLS where the edge needs one.
/// </summary>
public static class EdgeHostSetup
{
    /// <param name="enrolsEdges">The process enrols its own edges (a load of many): it then needs an Orleans connection unless it enrols over HTTP.</param>
    public static EdgeHostOptions Configure(IHostApplicationBuilder builder, string[] args, IDictionary<string, string> switches, bool enrolsEdges = false)
    {
        builder.Configuration.AddCommandLine(args, switches);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Logging.AddFilter("SpecEdge", LogLevel.Information);
        var options = builder.Configuration.GetSection(EdgeHostOptions.Section).Get<EdgeHostOptions>() ?? new EdgeHostOptions();
        builder.Services.Configure<EdgeHostOptions>(builder.Configuration.GetSection(EdgeHostOptions.Section));
        // Read by the chat mode too when it opens no Orleans client (the edge gateway carries the same credential).
        builder.Services.Configure<ClientCredentialOptions>(builder.Configuration.GetSection(ClientCredentialOptions.Section));
        // First-run clarity: what this edge host connects to, and as whom.
        Console.Error.WriteLine(StartupBanner.Describe(options,
            builder.Configuration.GetSection(ClientCredentialOptions.Section).Get<ClientCredentialOptions>() ?? new ClientCredentialOptions(),
            builder.Configuration.GetSection(EdgeTlsOptions.Section).Get<EdgeTlsOptions>() ?? new EdgeTlsOptions()));

        if (!string.IsNullOrWhiteSpace(options.MetricsListen))
        {
            // The edge's own metrics (EdgeMetrics) and Orleans' client meter, for a Prometheus on this PC.
            var listen = IPEndPoint.Parse(options.MetricsListen);
            builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
                .AddMeter(EdgeMetrics.MeterName, "Microsoft.Orleans")
                .AddPrometheusHttpListener(o => { o.Host = listen.Address.ToString(); o.Port = listen.Port; }));
        }

        // An edge on the edge gateway needs no Orleans connection (and an edge-CA certificate cannot open one).
        if (!options.GatewayOnly(enrolsEdges)) builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => { o.ClusterId = options.ClusterId; o.ServiceId = options.ServiceId; });
            var gateways = options.Gateways.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(g => IPEndPoint.Parse(g)).ToArray();
            if (gateways.Length == 0) throw new InvalidOperationException("Edge:Gateways lists no gateway (host:port).");
            client.UseStaticClustering(gateways);
            client.AddBroadcastChannel(ChannelNames.Provider);
            // The enrolment credential (a file written by whoever enrolled this edge, re-read when renewed) goes with every call.
            client.AddSpecEdgeCredential(builder.Configuration.GetSection(ClientCredentialOptions.Section));
            client.UseSpecEdgeTls(builder.Configuration.GetSection(EdgeTlsOptions.Section).Get<EdgeTlsOptions>() ?? new EdgeTlsOptions());
            // Keep trying to reach a gateway for a while at start-up instead of failing at once.
            int attempts = 0;
            client.UseConnectionRetryFilter(async (exception, cancellation) =>
            {
                if (++attempts > 30) return false;
                Console.Error.WriteLine($"waiting for the cluster at {options.Gateways} ({exception.Message})");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellation);
                return true;
            });
        });
        return options;
    }
}
