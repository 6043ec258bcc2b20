using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;

namespace SpecEdge.Benchmarks;

/// <summary>
/// What the OpenAI-compatible HTTP path costs, against a real silo process (the silo executable, its Kestrel and its
/// grains): (1) per request, an HTTP chat completion vs the same turn as direct grain calls from an Orleans client over
/// the gateway (BeginTurnAsync + StreamReplyAsync), with 1 new token so the model barely counts; (2) per streamed token,
/// the gap between SSE events vs between reply-stream chunks, one token per chunk; (3) time to first token of a
/// follow-up turn after a long first message, continuing the session (prefix reused) vs a miss that re-encodes it.
/// Everything interleaved in one run, so machine load hits both sides alike.
/// </summary>
public static class OpenAiBenchmark
{
    public static async Task RunAsync(BenchOptions o)
    {
        string target = Path.GetFullPath(o.String("target", "models/demo/target"));
        int requests = o.Int("requests", 200);
        int streamTokens = o.Int("stream-tokens", 32);
        int streams = o.Int("streams", 20);
        int followUps = o.Int("follow-ups", 10);
        int historyWords = o.Int("history-words", 400);
        string outPath = o.String("out", "bench-results/openai.json");
        string root = RepoRoot();
        string siloExe = Path.Combine(root, "silo", "bin", "Release", "net10.0", "linux-x64", "SpecEdge.Silo");
        if (!File.Exists(siloExe)) throw new FileNotFoundException($"Build the silo first (dotnet build silo -c Release): {siloExe}");

        var keys = SigningKeySet.CreateRandom("k1");
        string dir = Directory.CreateTempSubdirectory("specedge-openai-bench-").FullName;
        string keyFile = Path.Combine(dir, "keys.json");
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(keys.ActiveKey) + "\"}}");
        string Service(string tenant) => CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Service, Tenant = tenant, ExpiresAt = DateTimeOffset.UtcNow.AddHours(4).ToUnixTimeSeconds() }, keys);

        int siloPort = ExternalProcess.FreePort(), gatewayPort = ExternalProcess.FreePort(), httpPort = ExternalProcess.FreePort();
        string baseUrl = $"http://127.0.0.1:{httpPort}";
        using var silo = new ExternalProcess("silo", siloExe, new[]
        {
            "--SpecEdge:TargetModel", target, "--SpecEdge:Threads", o.Int("threads", 1).ToString(), "--SpecEdge:MaxActiveRepliesPerTenant", "0",
            "--Cluster:SiloPort", siloPort.ToString(), "--Cluster:GatewayPort", gatewayPort.ToString(), "--Cluster:ClusterId", "bench", "--Cluster:ServiceId", "bench",
            "--Security:KeyFile", keyFile, "--urls", baseUrl, "--Logging:LogLevel:Default", "Warning",
        }, root);
        await silo.WaitForPortAsync(httpPort, TimeSpan.FromSeconds(120));

        string directKey = Service("direct"), httpKey = Service("http");
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleansClient(c =>
        {
            c.Configure<Orleans.Configuration.ClusterOptions>(x => { x.ClusterId = "bench"; x.ServiceId = "bench"; });
            c.UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gatewayPort));
            c.AddSpecEdgeCredential(x => x.Token = directKey);   // a backend service, as it would call without the API
        });
        using var host = builder.Build();
        await host.StartAsync();
        var grains = host.Services.GetRequiredService<IClusterClient>();
        using var http = new HttpClient { Timeout = TimeSpan.FromMinutes(5) };
        Console.WriteLine($"silo up at {baseUrl}; load average {File.ReadAllText("/proc/loadavg").Trim()}");

        const string question = "The history of the city begins";
        var greedy = (int max) => new GenerationSettings { Temperature = 0, MaxNewTokens = max, Seed = 1 };

        // Direct: one new session per request, the turn and its whole reply through the gateway.
        async Task<(double Total, List<double> Gaps)> DirectAsync(int maxTokens)
        {
            var gaps = new List<double>();
            long start = Stopwatch.GetTimestamp(), last = 0;
            var session = grains.GetGrain<ISessionGrain>("direct/b-" + Guid.NewGuid().ToString("N"));
            await session.BeginTurnAsync(new TurnRequest { Settings = greedy(maxTokens), Text = question });
            await foreach (var chunk in session.StreamReplyAsync())
            {
                long now = Stopwatch.GetTimestamp();
                if (chunk.Tokens.Length == 1 && last != 0) gaps.Add(Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                last = now;
                if (chunk.Final) break;
            }
            return (Stopwatch.GetElapsedTime(start).TotalMilliseconds, gaps);
        }

        // HTTP: the same turn as a chat completion (whole or streamed; the gaps are between content events).
        async Task<(double Total, List<double> Gaps, double FirstToken, JsonNode? Body)> HttpAsync(string key, object[] messages, int maxTokens, bool stream)
        {
            var gaps = new List<double>();
            var body = new Dictionary<string, object> { ["model"] = "target", ["messages"] = messages, ["max_tokens"] = maxTokens, ["temperature"] = 0, ["seed"] = 1 };
            if (stream) body["stream"] = true;
            using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/v1/chat/completions") { Content = new StringContent(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            long start = Stopwatch.GetTimestamp(), last = 0;
            double first = double.NaN;
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"HTTP {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            if (!stream)
            {
                var whole = JsonNode.Parse(await response.Content.ReadAsStringAsync());
                return (Stopwatch.GetElapsedTime(start).TotalMilliseconds, gaps, double.NaN, whole);
            }
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var text = new StringBuilder();
            while (await reader.ReadLineAsync() is { } line)
            {
                if (!line.StartsWith("data: ") || line == "data: [DONE]") continue;
                var delta = JsonNode.Parse(line["data: ".Length..])!["choices"]!.AsArray().FirstOrDefault()?["delta"]?["content"];
                if (delta is null || ((string)delta!).Length == 0) continue;
                long now = Stopwatch.GetTimestamp();
                if (double.IsNaN(first)) first = Stopwatch.GetElapsedTime(start, now).TotalMilliseconds;
                else gaps.Add(Stopwatch.GetElapsedTime(last, now).TotalMilliseconds);
                last = now;
                text.Append((string)delta!);
            }
            return (Stopwatch.GetElapsedTime(start).TotalMilliseconds, gaps, first, JsonValue.Create(text.ToString()));
        }

        object[] User(string text) => new object[] { new { role = "user", content = text } };

        // Warm up both paths (JIT, connections, the verifier).
        for (int i = 0; i < 5; i++) { await DirectAsync(4); await HttpAsync(httpKey, User(question), 4, stream: false); await HttpAsync(httpKey, User(question), 4, stream: true); }

        // (1) Per request, 1 new token, alternating.
        var directMs = new List<double>();
        var httpMs = new List<double>();
        for (int i = 0; i < requests; i++)
        {
            directMs.Add((await DirectAsync(1)).Total);
            httpMs.Add((await HttpAsync(httpKey, User(question), 1, stream: false)).Total);
        }

        // (2) Per streamed token, alternating.
        var directGaps = new List<double>();
        var httpGaps = new List<double>();
        for (int i = 0; i < streams; i++)
        {
            directGaps.AddRange((await DirectAsync(streamTokens)).Gaps);
            httpGaps.AddRange((await HttpAsync(httpKey, User(question), streamTokens, stream: true)).Gaps);
        }

        // (3) TTFT of a follow-up after a long first message: continued (tenant A, its own conversation) vs re-encoded
        // (tenant B sends the same messages; it has no session for them, so the conversation is encoded again).
        string longMessage = string.Join(' ', Enumerable.Range(0, historyWords).Select(i => BenchWords[i % BenchWords.Length]));
        var reusedTtft = new List<double>();
        var encodedTtft = new List<double>();
        var reusedPrompt = new List<int>();
        var cachedTokens = new List<int>();
        for (int i = 0; i < followUps; i++)
        {
            string a = Service($"reuse-{i}"), b = Service($"encode-{i}");
            var first = await HttpAsync(a, User(longMessage + $" ({i})"), 16, stream: false);
            string reply = (string)first.Body!["choices"]![0]!["message"]!["content"]!;
            var messages = new object[]
            {
                new { role = "user", content = longMessage + $" ({i})" }, new { role = "assistant", content = reply }, new { role = "user", content = "And then?" },
            };
            // Usage of the continued turn (whole request) is checked once, so the figure is known to be a reuse.
            if (i == 0)
            {
                var check = await HttpAsync(Service("reuse-check"), User(longMessage + " (0)"), 16, stream: false);
                var again = new object[] { messages[0], new { role = "assistant", content = (string)check.Body!["choices"]![0]!["message"]!["content"]! }, messages[2] };
                var usage = (await HttpAsync(Service("reuse-check"), again, 8, stream: false)).Body!["usage"]!;
                reusedPrompt.Add((int)usage["prompt_tokens"]!);
                cachedTokens.Add((int)usage["prompt_tokens_details"]!["cached_tokens"]!);
            }
            if (i % 2 == 0)
            {
                reusedTtft.Add((await HttpAsync(a, messages, 8, stream: true)).FirstToken);
                encodedTtft.Add((await HttpAsync(b, messages, 8, stream: true)).FirstToken);
            }
            else
            {
                encodedTtft.Add((await HttpAsync(b, messages, 8, stream: true)).FirstToken);
                reusedTtft.Add((await HttpAsync(a, messages, 8, stream: true)).FirstToken);
            }
        }

        double reqDelta = Percentile.Of(httpMs, 50) - Percentile.Of(directMs, 50);
        double tokDelta = Percentile.Of(httpGaps, 50) - Percentile.Of(directGaps, 50);
        Console.WriteLine();
        Console.WriteLine("| measure | direct grain calls p50 ms | p99 ms | HTTP API p50 ms | p99 ms | HTTP - direct p50 ms | n |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        Console.WriteLine($"| request (1 new token) | {Percentile.Of(directMs, 50):F3} | {Percentile.Of(directMs, 99):F3} | {Percentile.Of(httpMs, 50):F3} | {Percentile.Of(httpMs, 99):F3} | {reqDelta:+0.000;-0.000} | {requests} |");
        Console.WriteLine($"| per streamed token | {Percentile.Of(directGaps, 50):F3} | {Percentile.Of(directGaps, 99):F3} | {Percentile.Of(httpGaps, 50):F3} | {Percentile.Of(httpGaps, 99):F3} | {tokDelta:+0.000;-0.000} | {directGaps.Count}/{httpGaps.Count} |");
        Console.WriteLine();
        Console.WriteLine($"follow-up turn (prompt {reusedPrompt.FirstOrDefault()} tokens, {cachedTokens.FirstOrDefault()} of them cached when continued):");
        Console.WriteLine("| follow-up | TTFT p50 ms | p99 ms | n |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine($"| session continued (prefix reused) | {Percentile.Of(reusedTtft, 50):F1} | {Percentile.Of(reusedTtft, 99):F1} | {reusedTtft.Count} |");
        Console.WriteLine($"| conversation re-encoded | {Percentile.Of(encodedTtft, 50):F1} | {Percentile.Of(encodedTtft, 99):F1} | {encodedTtft.Count} |");
        Console.WriteLine($"re-encoding / reuse TTFT p50: {Percentile.Of(encodedTtft, 50) / Percentile.Of(reusedTtft, 50):F2}x");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
        File.WriteAllText(outPath, JsonSerializer.Serialize(new
        {
            requestDirectP50Ms = Percentile.Of(directMs, 50), requestHttpP50Ms = Percentile.Of(httpMs, 50), requestOverheadP50Ms = reqDelta,
            requestDirectP99Ms = Percentile.Of(directMs, 99), requestHttpP99Ms = Percentile.Of(httpMs, 99),
            tokenDirectP50Ms = Percentile.Of(directGaps, 50), tokenHttpP50Ms = Percentile.Of(httpGaps, 50), tokenOverheadP50Ms = tokDelta,
            followUpPromptTokens = reusedPrompt.FirstOrDefault(), followUpCachedTokens = cachedTokens.FirstOrDefault(),
            ttftReusedP50Ms = Percentile.Of(reusedTtft, 50), ttftReencodedP50Ms = Percentile.Of(encodedTtft, 50), ttftReusedP99Ms = Percentile.Of(reusedTtft, 99), ttftReencodedP99Ms = Percentile.Of(encodedTtft, 99),
            requests, streams, streamTokens, followUps, historyWords, loadAverage = File.ReadAllText("/proc/loadavg").Trim(),
        }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {outPath}");
        await host.StopAsync();
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
    }

    private static readonly string[] BenchWords =
    {
        "the", "river", "city", "morning", "farmers", "committee", "history", "begins", "with", "a", "small", "market", "near", "old", "bridge",
    };

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecEdge.Orleans.sln"))) return dir.FullName;
        throw new InvalidOperationException("Cannot find the repository root (SpecEdge.Orleans.sln) above " + AppContext.BaseDirectory);
    }

}
