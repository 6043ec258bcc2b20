using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;
using SpecEdge.EdgeHost.OpenAi;
using SpecEdge.OpenAi;

// Settings: appsettings.json (section Edge), environment (Edge__DraftModel), command line (--draft, --prompt, ... or --Edge:X).
if (args.Contains("--version")) { Console.WriteLine(StartupBanner.Version); return; }
args = EdgeHostOptions.NormalizeArgs(args);
var settings = new ConfigurationBuilder().AddCommandLine(args, EdgeHostOptions.Switches).Build();
bool serve = !string.IsNullOrWhiteSpace(settings[$"{EdgeHostOptions.Section}:{nameof(EdgeHostOptions.Serve)}"]);

if (serve)
{
    // --serve host:port: the OpenAI-compatible API for apps on this PC, drafted here (docs in README, "OpenAI-compatible API").
    var web = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
    var options = Configure(web, args);
    web.WebHost.UseUrls("http://" + options.Serve);
    web.Services.AddOpenAiApi<EdgeOpenAiBackend>(web.Configuration);
    var app = web.Build();
    app.UseOpenAiCors();
    app.MapOpenAiApi();
    _ = app.Services.GetRequiredService<IOpenAiBackend>();   // the draft models and the key, before the port opens
    await app.StartAsync();
    app.Services.GetRequiredService<ILogger<EdgeOpenAiBackend>>().LogInformation("OpenAI-compatible API listening on {Urls}", string.Join(", ", app.Urls));
    await app.WaitForShutdownAsync();
}
else
{
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
    var options = Configure(builder, args);
    if (options.Bench > 0 || options.Soak > 0) builder.Services.AddSingleton<EdgeEnroller>();
    if (options.Bench > 0) builder.Services.AddHostedService<BenchEdges>();
    else if (options.Soak > 0) builder.Services.AddHostedService<SoakEdges>();
    else builder.Services.AddHostedService<ConsoleChat>();
    await builder.Build().RunAsync();
}

// The Orleans client, credential, TLS and logging every mode shares.
static EdgeHostOptions Configure(IHostApplicationBuilder builder, string[] args)
{
    builder.Configuration.AddCommandLine(args, EdgeHostOptions.Switches);
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
    if (!options.GatewayOnly) builder.UseOrleansClient(client =>
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
