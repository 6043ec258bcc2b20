using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Persistence;
using SpecEdge.Grains.Security;
using SpecEdge.OpenAi;
using SpecEdge.Silo;
using SpecEdge.Silo.Gateway;
using SpecEdge.Silo.OpenAi;

// Configuration: appsettings.json, then SPECEDGE_-free environment (e.g. SpecEdge__TargetModel), then the command line
// (e.g. --SpecEdge:TargetModel models/demo/target --Cluster:SiloPort 11112).
// An ASP.NET Core host: Kestrel on `urls`/ASPNETCORE_URLS, http://127.0.0.1:8080 by default (SiloHttpExtensions).
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.UseSpecEdgeHttpDefaults();
var cluster = builder.Configuration.GetSection(ClusterSettings.Section).Get<ClusterSettings>() ?? new ClusterSettings();
string siloName = SiloClusteringExtensions.SiloName(cluster);

bool tls = false;
builder.UseOrleans(silo =>
{
    silo.Configure<ClusterOptions>(o => { o.ClusterId = cluster.ClusterId; o.ServiceId = cluster.ServiceId; });
    silo.Configure<SiloOptions>(o => o.SiloName = siloName);
    // Membership (localhost / azuretable / redis) and the address this silo advertises (SiloClusteringExtensions).
    silo.UseSpecEdgeClustering(cluster);
    if (cluster.FailureDetectionSeconds > 0)
        silo.Configure<ClusterMembershipOptions>(o =>
        {
            // Probe often, and let a single suspecting silo declare death: a two-silo cluster has only one other voter.
            o.ProbeTimeout = TimeSpan.FromSeconds(cluster.FailureDetectionSeconds / 2);
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 1;
            o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(Math.Max(1, cluster.FailureDetectionSeconds));
        });
    bool durable = !string.IsNullOrWhiteSpace(cluster.StorageConnectionString);
    silo.AddSpecEdge(builder.Configuration, inMemorySessions: !durable);
    // Deny by default: every client call needs a signed credential (keys from Security:KeyFile, see docs/security.md).
    silo.AddSpecEdgeSecurity(builder.Configuration);
    // TLS with client certificates from the edge CA when Tls:CertificateFile is set (infra/local/run.sh sets it).
    tls = silo.UseSpecEdgeTls(builder.Configuration, gatewayPort: cluster.GatewayListenPort ?? cluster.GatewayPort);   // the port connections arrive on
    if (durable)
        silo.AddSpecEdgeBlobStorage("sessions", cluster.StorageConnectionString!, cluster.StorageContainer);
    // The Orleans Dashboard at /dashboard, operators only (Dashboard:Enabled, off by default).
    silo.AddSpecEdgeDashboard(builder.Configuration);
});
builder.Services.AddSpecEdgeHealth();
builder.Services.AddSpecEdgeMetrics();
// OpenAI-compatible API (/v1/...): keys are service credentials, checked like any Orleans client's (docs/security.md).
builder.Services.AddOpenAiApi<GrainOpenAiBackend>(builder.Configuration);
// The edge gateway (Gateway:Port): untrusted edges reach their conversation over gRPC, never over Orleans (docs/security.md).
var gateway = builder.AddSpecEdgeGateway();

var host = builder.Build();
host.MapSpecEdgeHealth();
host.MapSpecEdgeMetrics();
host.MapSpecEdgeDashboard();
host.UseOpenAiCors();
host.MapOpenAiApi();
host.MapEdgeEnrolment();
host.MapSpecEdgeGateway(gateway);
// Fail now, not on the first call, if the signing keys are missing or unreadable.
_ = host.Services.GetRequiredService<SigningKeys>().Value;
var log = host.Services.GetRequiredService<ILogger<Program>>();
log.LogInformation("Silo {Name}: clustering {Clustering}, silo port {SiloPort}, gateway port {GatewayPort}, HTTP {Urls}, TLS {Tls}, sessions in {Storage}",
    siloName, cluster.Clustering, cluster.SiloPort, cluster.GatewayPort, builder.Configuration["urls"] ?? SiloHttpExtensions.DefaultUrl, tls ? "on" : "OFF (development only)",
    string.IsNullOrWhiteSpace(cluster.StorageConnectionString) ? "memory (not durable)" : $"Azure Blob container '{cluster.StorageContainer}'");
await host.StartAsync();
log.LogInformation("HTTP API listening on {Urls}", string.Join(", ", host.Urls));
if (gateway.Port > 0)
    log.LogInformation("Edge gateway (gRPC, HTTP/2) on {Address}:{Port}, {Tls}", gateway.ListenAddress, gateway.Port,
        tls ? "TLS with client certificates from the edge CA" : "PLAINTEXT (development only: no TLS configured)");
await host.WaitForShutdownAsync();
