using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SpecEdge.EdgeHost;
using SpecEdge.EdgeLoad;

// Many emulated edges in one process, set up as an edge host is (the same settings, credential, TLS and transports):
//   --soak N   the soak's honest sessions, each checked at the end        (tests/SpecEdge.Soak starts these)
//   --bench N  the e2e benchmark's conversations, one JSON line per reply (tests/SpecEdge.Benchmarks e2e starts these)
args = EdgeHostOptions.NormalizeArgs(args);
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
EdgeHostSetup.Configure(builder, args, EdgeLoadOptions.Switches, enrolsEdges: true);
var load = builder.Configuration.GetSection(EdgeHostOptions.Section).Get<EdgeLoadOptions>() ?? new EdgeLoadOptions();
builder.Services.Configure<EdgeLoadOptions>(builder.Configuration.GetSection(EdgeHostOptions.Section));
builder.Services.AddSingleton<EdgeEnroller>();
if (load.Bench > 0) builder.Services.AddHostedService<BenchEdges>();
else if (load.Soak > 0) builder.Services.AddHostedService<SoakEdges>();
else
{
    Console.Error.WriteLine("SpecEdge.EdgeLoad needs --soak N or --bench N (and the edge host's options: --draft, --edge-gateway, --credential-file, ...).");
    return 2;
}
await builder.Build().RunAsync();
return 0;
