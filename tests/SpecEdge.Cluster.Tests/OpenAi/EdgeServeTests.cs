using System.Text.Json.Nodes;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// The edge host's <c>--serve</c> mode as a real process next to the real silo: the same request gives the same bytes of
/// text as the silo's endpoint at temperature 0 (streamed and not), the reply is drafted on the edge, its follow-up
/// continues the session, and local apps need the edge host's own key.
/// </summary>
[Collection(OpenAiCollection.Name)]
[Trait("Kind", "process")]
public class EdgeServeTests(OpenAiSiloFixture f, ITestOutputHelper output)
{
    [Fact]
    public async Task EdgeHostServe_AnswersWithTheSilosBytes_DraftingLocally()
    {
        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string edgeExe = Path.Combine(root, "edge-host", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.EdgeHost");
        string dir = Directory.CreateTempSubdirectory("specedge-serve-").FullName;
        string serviceKey = f.ServiceKey("gamer");
        string credentialFile = Path.Combine(dir, "service.token");
        File.WriteAllText(credentialFile, serviceKey);
        string keyFile = Path.Combine(dir, "edge-api.key");
        int port = ExternalProcess.FreePort(), metricsPort = ExternalProcess.FreePort();
        using var edge = new ExternalProcess("edge-serve", edgeExe, new[]
        {
            "--metrics", $"127.0.0.1:{metricsPort}",
            // No Orleans gateway: each reply's edge is enrolled over the silo's HTTP API and drafts over its edge gateway.
            "--serve", $"127.0.0.1:{port}", "--edge-gateway", f.EdgeGateway.ToString(), "--enrol-url", f.BaseUrl,
            "--draft", Path.Combine(root, "models", "demo", "draft"),
            // No --OpenAi:ModelName: the edge serves the silo's own model id, asked at start-up.
            "--credential-file", credentialFile, "--serve-key-file", keyFile,
        }, root);
        try
        {
            await edge.WaitForPortAsync(port, TimeSpan.FromSeconds(90));
            Assert.Contains($"connecting to the edge gateway {f.EdgeGateway}", edge.Output);
            string localKey = File.ReadAllText(keyFile).Trim();
            string edgeUrl = $"http://127.0.0.1:{port}";
            using (var models = new HttpRequestMessage(HttpMethod.Get, edgeUrl + "/v1/models"))
            {
                models.Headers.Authorization = new("Bearer", localKey);
                using var listed = await f.Http.SendAsync(models);
                Assert.Equal(OpenAiSiloFixture.Model, (string?)JsonNode.Parse(await listed.Content.ReadAsStringAsync())!["data"]![0]!["id"]);
            }

            var request = new Dictionary<string, object>
            {
                ["model"] = OpenAiSiloFixture.Model, ["temperature"] = 0, ["max_tokens"] = 40,
                ["messages"] = new object[] { new { role = "system", content = "Answer briefly." }, new { role = "user", content = "Tell me a story about the river" } },
            };
            var fromSilo = await f.PostAsync("/v1/chat/completions", request, f.ServiceKey("gamer"));
            var fromEdge = await PostAsync(edgeUrl, request, localKey);
            Assert.True(fromEdge.Status == 200, fromEdge.Body?.ToJsonString() + edge.Output);
            Assert.StartsWith("gamer/", fromEdge.Session);
            Assert.Equal(Text(fromSilo.Body!), Text(fromEdge.Body!));
            foreach (var count in new[] { "prompt_tokens", "completion_tokens", "total_tokens" })
                Assert.Equal((int)fromSilo.Body!["usage"]![count]!, (int)fromEdge.Body!["usage"]![count]!);
            // The same tenant sent the same prompt just before: the verifier's prefix cache held all of it but its last,
            // unfinished 32-token block, and the edge's usage says so.
            int promptTokens = (int)fromEdge.Body!["usage"]!["prompt_tokens"]!;
            Assert.Equal((promptTokens - 1) / 32 * 32, (int)fromEdge.Body!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
            Assert.Equal(await f.SessionReplyTokensAsync(fromSilo.Session!), await f.SessionReplyTokensAsync(fromEdge.Session!));

            // Streamed through curl: the same bytes again.
            string body = System.Text.Json.JsonSerializer.Serialize(request.Append(new("stream", true)).ToDictionary(p => p.Key, p => p.Value));
            string streamed = await OpenAiHttpTests.CurlAsync("-sS", "-N", "-D", "-", edgeUrl + "/v1/chat/completions", "-H", "Authorization: Bearer " + localKey, "-d", body);
            var lines = streamed.Replace("\r", "").Split('\n');
            string streamedSession = lines.First(l => l.StartsWith("X-SpecEdge-Session:", StringComparison.OrdinalIgnoreCase)).Split(':', 2)[1].Trim();
            var data = lines.Where(l => l.StartsWith("data: ")).Select(l => l["data: ".Length..]).ToList();
            Assert.Equal("[DONE]", data[^1]);
            Assert.Equal(Text(fromSilo.Body!), string.Concat(data.SkipLast(1).Select(d => (string?)JsonNode.Parse(d)!["choices"]![0]!["delta"]!["content"] ?? "")));

            // Drafted here, not by the cluster alone.
            await WaitForAsync(() => edge.Output.Contains($"Session {fromEdge.Session}: drafted"), TimeSpan.FromSeconds(30));
            output.WriteLine(edge.Output);

            // The edge's own metrics (--metrics): its steps and tokens are counted.
            using (var scraper = new HttpClient { Timeout = TimeSpan.FromSeconds(10) })
            {
                string metrics = await scraper.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
                double Total(string name) => metrics.Split('\n').Where(l => l.StartsWith(name + "{") || l.StartsWith(name + " "))
                    .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
                Assert.True(Total("specedge_edge_steps_total") > 0, metrics);
                Assert.True(Total("specedge_edge_tokens_total") >= Total("specedge_edge_steps_total"), metrics);
            }

            // A follow-up through the edge host continues a session holding that conversation (two do: the last one).
            request["messages"] = ((object[])request["messages"]).Concat(new object[]
            {
                new { role = "assistant", content = Text(fromEdge.Body!) }, new { role = "user", content = "And then?" },
            }).ToArray();
            var followUp = await PostAsync(edgeUrl, request, localKey);
            Assert.True(followUp.Status == 200, followUp.Body?.ToJsonString());
            Assert.Equal(streamedSession, followUp.Session);
            // Every token the session held but the last (its keys are computed with the new turn), reported over the gateway.
            Assert.Equal((int)fromEdge.Body!["usage"]!["total_tokens"]! - 1, (int)followUp.Body!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);

            // Two replies at once with one draft slot: one is drafted here, the other decoded by the cluster alone;
            // both are still the silo's bytes.
            var questions = new[] { "Write a short note about rivers", "In the morning the farmers" };
            object Ask(string q) => new Dictionary<string, object> { ["model"] = OpenAiSiloFixture.Model, ["temperature"] = 0, ["max_tokens"] = 16, ["messages"] = new[] { new { role = "user", content = q } } };
            var together = await Task.WhenAll(questions.Select(q => PostAsync(edgeUrl, Ask(q), localKey)));
            for (int i = 0; i < questions.Length; i++)
            {
                Assert.True(together[i].Status == 200, together[i].Body?.ToJsonString());
                Assert.Equal(Text((await f.PostAsync("/v1/chat/completions", Ask(questions[i]), f.ServiceKey("gamer"))).Body!), Text(together[i].Body!));
            }

            // n = 2 with a seed through the edge host: the same choices, in the same order, as the silo gives.
            var two = new Dictionary<string, object>
            {
                ["model"] = OpenAiSiloFixture.Model, ["temperature"] = 0.9, ["seed"] = 5, ["n"] = 2, ["max_tokens"] = 12,
                ["messages"] = new[] { new { role = "user", content = "Two plus two equals" } },
            };
            var twoFromEdge = await PostAsync(edgeUrl, two, localKey);
            var twoFromSilo = await f.PostAsync("/v1/chat/completions", two, f.ServiceKey("gamer"));
            Assert.True(twoFromEdge.Status == 200, twoFromEdge.Body?.ToJsonString());
            string[] Choices(JsonNode body) => body["choices"]!.AsArray().Select(c => (string)c!["message"]!["content"]!).ToArray();
            Assert.Equal(2, Choices(twoFromEdge.Body!).Length);
            Assert.Equal(Choices(twoFromSilo.Body!), Choices(twoFromEdge.Body!));

            // Penalties, logit_bias, min_p and a JSON schema travel over the edge gateway (the wire once dropped all but the
            // schema's predecessors silently): the edge's reply, drafted under the grammar here, is the silo's.
            var shaped = new Dictionary<string, object>
            {
                ["model"] = OpenAiSiloFixture.Model, ["temperature"] = 0, ["max_tokens"] = 64, ["frequency_penalty"] = 0.8, ["min_p"] = 0.05,
                ["logit_bias"] = new Dictionary<string, double> { ["11"] = -5 },
                ["messages"] = new[] { new { role = "user", content = "Describe the city" } },
                ["response_format"] = new { type = "json_schema", json_schema = new { name = "city", schema = JsonNode.Parse(OpenAiHttpTests.MoodSchema) } },
            };
            var shapedFromEdge = await PostAsync(edgeUrl, shaped, localKey);
            var shapedFromSilo = await f.PostAsync("/v1/chat/completions", shaped, f.ServiceKey("gamer"));
            Assert.True(shapedFromEdge.Status == 200, shapedFromEdge.Body?.ToJsonString());
            Assert.Equal(await f.SessionReplyTokensAsync(shapedFromSilo.Session!), await f.SessionReplyTokensAsync(shapedFromEdge.Session!));
            var plainSettings = new SpecEdge.Contracts.GenerationSettings { Temperature = 0, Seed = 0, MaxNewTokens = 64 };
            var plainReply = f.ReferenceReply(f.NewConversationPrompt(plainSettings, Array.Empty<SpecEdge.Contracts.ChatTurn>(), "Describe the city"), plainSettings);
            Assert.NotEqual(plainReply, await f.SessionReplyTokensAsync(shapedFromEdge.Session!));
            using (var json = System.Text.Json.JsonDocument.Parse(Text(shapedFromEdge.Body!)))
                Assert.True(Json.Schema.JsonSchema.FromText(OpenAiHttpTests.MoodSchema).Evaluate(json.RootElement).IsValid, Text(shapedFromEdge.Body!));

            // A forced tool call through the edge host (tools and tool_choice over the wire, drafted here under the call's
            // grammar): the silo's tokens and the same call.
            var calling = new Dictionary<string, object>
            {
                ["model"] = OpenAiSiloFixture.Model, ["temperature"] = 0, ["max_tokens"] = 160,
                ["messages"] = new[] { new { role = "user", content = "What is the weather in Rome?" } },
                ["tools"] = new[] { JsonNode.Parse(OpenAiHttpTests.WeatherTool) },
                ["tool_choice"] = new { type = "function", function = new { name = "get_weather" } },
            };
            var callFromEdge = await PostAsync(edgeUrl, calling, localKey);
            var callFromSilo = await f.PostAsync("/v1/chat/completions", calling, f.ServiceKey("gamer"));
            Assert.True(callFromEdge.Status == 200, callFromEdge.Body?.ToJsonString());
            int[] siloCallTokens = await f.SessionReplyTokensAsync(callFromSilo.Session!), edgeCallTokens = await f.SessionReplyTokensAsync(callFromEdge.Session!);
            Assert.True(siloCallTokens.SequenceEqual(edgeCallTokens), $"edge: {callFromEdge.Body!.ToJsonString()}; silo: {callFromSilo.Body!.ToJsonString()}");
            var edgeCall = callFromEdge.Body!["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!;
            Assert.Equal("get_weather", (string)edgeCall["name"]!);
            Assert.Equal((string)callFromSilo.Body!["choices"]![0]!["message"]!["tool_calls"]![0]!["function"]!["arguments"]!, (string)edgeCall["arguments"]!);

            // An app that goes away mid-reply stops it on the cluster too (over the edge gateway).
            using (var abort = new HttpClient(new SocketsHttpHandler { ResponseDrainTimeout = TimeSpan.Zero, MaxResponseDrainSize = 0 }))
            {
                var (streaming, reader) = await StreamUntilThirdEventAsync(abort, edgeUrl, localKey, "The history of the city");
                string abandoned = streaming.Headers.GetValues("X-SpecEdge-Session").Single();
                reader.Dispose();
                streaming.Dispose();
                var grain = f.Client.GetGrain<SpecEdge.Contracts.ISessionGrain>(abandoned);
                var clock = System.Diagnostics.Stopwatch.StartNew();
                while ((await grain.GetAsync()).Generating)
                {
                    Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), "the abandoned reply went on generating");
                    await Task.Delay(20);
                }
                output.WriteLine($"abandoned reply stopped {clock.ElapsedMilliseconds} ms after the app left");
            }

            // Local apps need the edge host's key: a cluster key or a guess is refused.
            Assert.Equal(401, (await PostAsync(edgeUrl, request, serviceKey)).Status);
            Assert.Equal(401, (await PostAsync(edgeUrl, request, "sk-guess-0000000000000000")).Status);

            // SIGTERM while a reply is being drafted here: drafting stops before the draft models are freed, and the
            // host exits cleanly (the API issue reported SIGSEGV, 139; not reproduced here, so this guards the fix).
            using (var live = new HttpClient(new SocketsHttpHandler { ResponseDrainTimeout = TimeSpan.Zero, MaxResponseDrainSize = 0 }))
            {
                var (streaming, reader) = await StreamUntilThirdEventAsync(live, edgeUrl, localKey, "In the morning the farmers");
                using var _ = streaming;
                using var __ = reader;
                using (var term = System.Diagnostics.Process.Start("kill", ["-TERM", edge.ProcessId.ToString()])) await term.WaitForExitAsync();
                Assert.True(await edge.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the edge host did not exit within 30 s of SIGTERM");
                output.WriteLine($"edge host exited with {edge.ExitCode} after SIGTERM mid-draft");
                Assert.Equal(0, edge.ExitCode);
            }
        }
        finally
        {
            edge.Dispose();
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>A long streamed greedy chat through <paramref name="baseUrl"/>, read until its third event (the reply is under way).</summary>
    private static async Task<(HttpResponseMessage Response, StreamReader Reader)> StreamUntilThirdEventAsync(HttpClient http, string baseUrl, string key, string prompt)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/v1/chat/completions");
        request.Headers.Authorization = new("Bearer", key);
        request.Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["model"] = OpenAiSiloFixture.Model, ["temperature"] = 0, ["max_tokens"] = 1500, ["stream"] = true,
            ["messages"] = new[] { new { role = "user", content = prompt } },
        }), System.Text.Encoding.UTF8, "application/json");
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        for (int events = 0; events < 3;)
            if ((await reader.ReadLineAsync())?.StartsWith("data: ") == true) events++;
        return (response, reader);
    }

    private static string Text(JsonNode body) => (string)body["choices"]![0]!["message"]!["content"]!;

    private async Task<(int Status, JsonNode? Body, string? Session)> PostAsync(string baseUrl, object body, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/v1/chat/completions")
        {
            Content = new StringContent(System.Text.Json.JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new("Bearer", key);
        using var response = await f.Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text), response.Headers.TryGetValues("X-SpecEdge-Session", out var v) ? v.First() : null);
    }

    private static async Task WaitForAsync(Func<bool> condition, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > until) throw new TimeoutException("condition not met in time");
            await Task.Delay(100);
        }
    }
}
