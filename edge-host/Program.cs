using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
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
    var options = EdgeHostSetup.Configure(web, args, EdgeHostOptions.Switches);
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
    // Console chat. (Loads of many edges for the soak and the benchmarks are tests/SpecEdge.EdgeLoad.)
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
    EdgeHostSetup.Configure(builder, args, EdgeHostOptions.Switches);
    builder.Services.AddHostedService<ConsoleChat>();
    await builder.Build().RunAsync();
}
