using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// A silo process's /metrics (Prometheus text from OpenTelemetry): scraped with an operator credential while a reply
/// is decoded, our counters move and Orleans' meter is there; without a credential, or with an edge's, it is refused.
/// </summary>
[Trait("Kind", "process")]
public sealed class MetricsEndpointTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Metrics_ScrapedDuringDecoding_CountersMove_AndOnlyOperatorsMayScrape()
    {
        using var silo = new SecuredSiloProcess("silo-metrics");
        await silo.WaitReadyAsync();
        string Sign(CredentialRole role) => silo.Sign(role, "t/metrics");
        int gatewayPort = silo.GatewayPort, httpPort = silo.HttpPort;
        string operatorToken = Sign(CredentialRole.Operator);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(10) };
        async Task<(HttpStatusCode Status, string Body)> ScrapeAsync(string? token)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
            if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await ScrapeAsync(null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ScrapeAsync("not-a-credential")).Status);
        Assert.Equal(HttpStatusCode.Forbidden, (await ScrapeAsync(Sign(CredentialRole.Edge))).Status);

        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleansClient(c =>
        {
            c.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = silo.ClusterId; o.ServiceId = silo.ClusterId; });
            c.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, gatewayPort));
            c.AddBroadcastChannel(ChannelNames.Provider);
            c.AddSpecEdgeCredential(o => o.Token = operatorToken);
        });
        using var host = builder.Build();
        await host.StartAsync();
        var session = host.Services.GetRequiredService<IClusterClient>().GetGrain<ISessionGrain>("t/metrics");
        await session.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = 400, UseChatTemplate = false });
        var turn = await session.SendUserMessageAsync("The history of the city");

        SessionSnapshot snapshot;
        do { await Task.Delay(50); snapshot = await session.GetAsync(); } while (snapshot.Generating && snapshot.CommittedTokens - turn.CommittedLength < 8);
        var (status, first) = await ScrapeAsync(operatorToken);
        Assert.Equal(HttpStatusCode.OK, status);
        long tokensBefore = Sum(first, "specedge_tokens_committed_total");
        long stepsBefore = Sum(first, "specedge_step_duration_seconds_count");
        do { await Task.Delay(100); snapshot = await session.GetAsync(); } while (snapshot.Generating && snapshot.CommittedTokens - turn.CommittedLength < 40);
        Assert.True(snapshot.Generating, "the reply ended before the second scrape; make it longer");
        // The exporter caches a scrape briefly; wait past it.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var (_, second) = await ScrapeAsync(operatorToken);
        long tokensAfter = Sum(second, "specedge_tokens_committed_total");
        long stepsAfter = Sum(second, "specedge_step_duration_seconds_count");
        output.WriteLine($"tokens committed {tokensBefore} -> {tokensAfter}; steps {stepsBefore} -> {stepsAfter}");
        output.WriteLine(string.Join('\n', second.Split('\n').Where(l => l.StartsWith("specedge_")).Take(40)));

        Assert.True(tokensBefore >= 8, $"first scrape saw {tokensBefore} committed tokens");
        Assert.True(tokensAfter > tokensBefore, $"tokens committed did not move: {tokensBefore} -> {tokensAfter}");
        Assert.True(stepsAfter > stepsBefore, $"step count did not move: {stepsBefore} -> {stepsAfter}");
        Assert.True(Sum(second, "specedge_sessions_active") >= 1);
        Assert.True(Sum(second, "specedge_kv_bytes_in_use_bytes") > 0, "a decoding session holds KV memory");
        Assert.True(Sum(second, "specedge_kv_bytes_budget_bytes") > 0);
        Assert.Contains("specedge_verifier_batch_size_bucket", second);
        Assert.Contains("specedge_verifier_queue_wait_seconds_bucket", second);
        Assert.Contains("specedge_device_busy_seconds_total", second);
        Assert.Contains("specedge_session_state_write_duration_seconds_count", second);
        Assert.Matches(new Regex(@"^orleans_\w+", RegexOptions.Multiline), second);
        await host.StopAsync();
    }

    /// <summary>Sum of every sample of <paramref name="metric"/> (all label sets) in Prometheus text format.</summary>
    private static long Sum(string text, string metric) =>
        (long)Regex.Matches(text, $@"^{metric}(?:\{{[^}}]*\}})? (\S+)", RegexOptions.Multiline)
            .Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
}
