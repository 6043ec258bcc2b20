using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// The OpenAI-compatible API of a real silo process, over plain HTTP and curl: replies equal target-only decoding token
/// for token, conversations continue their session, and bad requests and bad keys get OpenAI's errors naming the problem.
/// </summary>
[Collection(OpenAiCollection.Name)]
[Trait("Kind", "process")]
public class OpenAiHttpTests(OpenAiSiloFixture f, Xunit.Abstractions.ITestOutputHelper output)
{
    private static GenerationSettings Greedy(int maxTokens, string? system = null, params string[] stops) =>
        new() { Temperature = 0, MaxNewTokens = maxTokens, Seed = 0, SystemPrompt = system, StopStrings = stops };

    private static object Chat(object[] messages, int maxTokens, double temperature = 0, object? stop = null, long? seed = null, bool stream = false) =>
        new Dictionary<string, object?>
        {
            ["model"] = OpenAiSiloFixture.Model, ["messages"] = messages, ["max_tokens"] = maxTokens, ["temperature"] = temperature,
            ["stop"] = stop, ["seed"] = seed, ["stream"] = stream ? true : null,
        }.Where(p => p.Value is not null).ToDictionary(p => p.Key, p => p.Value);

    private static object User(string text) => new { role = "user", content = text };

    [Fact]
    public async Task ChatAtTemperatureZero_EqualsTargetGreedy_AndCountsUsage()
    {
        string key = f.ServiceKey("greedy");
        var (status, body, session) = await f.PostAsync("/v1/chat/completions",
            Chat(new object[] { new { role = "system", content = "You are terse." }, User("The history of the city begins") }, 24), key);
        Assert.True(status == 200, body?.ToJsonString());
        Assert.StartsWith("greedy/", session);

        var prompt = f.NewConversationPrompt(Greedy(24, "You are terse."), Array.Empty<ChatTurn>(), "The history of the city begins");
        var expected = f.ReferenceReply(prompt, Greedy(24));
        Assert.Equal(expected, await f.SessionReplyTokensAsync(session!));
        Assert.Equal(f.Decode(expected), (string)body!["choices"]![0]!["message"]!["content"]!);
        Assert.Equal("assistant", (string)body["choices"]![0]!["message"]!["role"]!);
        Assert.Equal("chat.completion", (string)body["object"]!);
        Assert.Equal(expected.Length == 24 ? "length" : "stop", (string)body["choices"]![0]!["finish_reason"]!);
        Assert.Equal(prompt.Length, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(expected.Length, (int)body["usage"]!["completion_tokens"]!);
        Assert.Equal(prompt.Length + expected.Length, (int)body["usage"]!["total_tokens"]!);
    }

    [Fact]
    public async Task CompletionStreamedThroughCurl_IsServerSentEvents_EqualToTargetGreedy()
    {
        string key = f.ServiceKey("curl");
        string request = """{"model": "target", "prompt": "In the morning the farmers", "max_tokens": 12, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}""";
        string output = await CurlAsync("-sS", "-N", "-D", "-", f.BaseUrl + "/v1/completions", "-H", "Authorization: Bearer " + key,
            "-H", "Content-Type: application/json", "-d", request);
        var lines = output.Replace("\r", "").Split('\n');
        string session = lines.First(l => l.StartsWith("X-SpecEdge-Session:", StringComparison.OrdinalIgnoreCase)).Split(':', 2)[1].Trim();
        Assert.Contains(lines, l => l.StartsWith("Content-Type: text/event-stream", StringComparison.OrdinalIgnoreCase));
        var data = lines.Where(l => l.StartsWith("data: ")).Select(l => l["data: ".Length..]).ToList();
        Assert.Equal("[DONE]", data[^1]);
        var events = data.SkipLast(1).Select(d => JsonNode.Parse(d)!).ToList();
        string text = string.Concat(events.SelectMany(e => e["choices"]!.AsArray()).Select(c => (string?)c!["text"] ?? ""));
        var usage = events[^1]["usage"]!;
        Assert.Empty(events[^1]["choices"]!.AsArray());
        Assert.Equal("length", (string)events[^2]["choices"]![0]!["finish_reason"]!);

        var settings = Greedy(12) with { UseChatTemplate = false };
        var prompt = f.NewConversationPrompt(settings, Array.Empty<ChatTurn>(), "In the morning the farmers");
        var expected = f.ReferenceReply(prompt, settings);
        Assert.Equal(expected, await f.SessionReplyTokensAsync(session));
        Assert.Equal(f.Decode(expected), text);
        Assert.Equal(prompt.Length, (int)usage["prompt_tokens"]!);
        Assert.Equal(12, (int)usage["completion_tokens"]!);
    }

    [Fact]
    public async Task Penalties_AndLogitBias_DecideAsTargetOnlyDecodingDoes_AndBadValuesAreRefusedByName()
    {
        string key = f.ServiceKey("penalties");
        const string question = "The history of the city begins";
        var plainSettings = Greedy(16);
        var prompt = f.NewConversationPrompt(plainSettings, Array.Empty<ChatTurn>(), question);
        var plainReply = f.ReferenceReply(prompt, plainSettings);
        // Ban the plain reply's first token and push its second: the penalised reply must differ from the plain one.
        var bias = new Dictionary<int, double> { [plainReply[0]] = -100, [plainReply[1]] = 3 };
        var settings = plainSettings with { FrequencyPenalty = 1.2, PresencePenalty = 0.4, RepetitionPenalty = 1.3, LogitBias = bias };
        var expected = f.ReferenceReply(prompt, settings);
        Assert.NotEqual(plainReply, expected);

        var request = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 16,
            ["temperature"] = 0, ["frequency_penalty"] = 1.2, ["presence_penalty"] = 0.4, ["repetition_penalty"] = 1.3,
            ["logit_bias"] = bias.ToDictionary(b => b.Key.ToString(System.Globalization.CultureInfo.InvariantCulture), b => b.Value) };
        var (status, body, session) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(status == 200, body?.ToJsonString());
        Assert.Equal(expected, await f.SessionReplyTokensAsync(session!));

        // Text completions take them too, and give the same tokens for the same raw prompt as the reference.
        var raw = plainSettings with { UseChatTemplate = false, FrequencyPenalty = 2 };
        var rawPrompt = f.NewConversationPrompt(raw, Array.Empty<ChatTurn>(), "In the morning the farmers");
        var (cs, completion, rawSession) = await f.PostAsync("/v1/completions", new Dictionary<string, object> { ["model"] = "target",
            ["prompt"] = "In the morning the farmers", ["max_tokens"] = 16, ["temperature"] = 0, ["frequency_penalty"] = 2 }, key);
        Assert.True(cs == 200, completion?.ToJsonString());
        Assert.Equal(f.ReferenceReply(rawPrompt, raw), await f.SessionReplyTokensAsync(rawSession!));

        // min_p (vLLM's extension) on a seeded sampled reply: the reference's tokens.
        var sampled = Greedy(16) with { Temperature = 1.0, Seed = 5, MinP = 0.3 };
        var (ms, minP, minPSession) = await f.PostAsync("/v1/chat/completions", new Dictionary<string, object> { ["model"] = "target",
            ["messages"] = new[] { User(question) }, ["max_tokens"] = 16, ["temperature"] = 1.0, ["seed"] = 5, ["min_p"] = 0.3 }, key);
        Assert.True(ms == 200, minP?.ToJsonString());
        Assert.Equal(f.ReferenceReply(f.NewConversationPrompt(sampled, Array.Empty<ChatTurn>(), question), sampled), await f.SessionReplyTokensAsync(minPSession!));

        // Out of range, malformed, or a token the model does not have: a 400 naming the parameter.
        foreach (var (field, value) in new (string, object)[]
        {
            ("presence_penalty", 2.5), ("frequency_penalty", -3), ("repetition_penalty", 0), ("min_p", -0.1),
            ("logit_bias", new Dictionary<string, object> { ["abc"] = 1 }), ("logit_bias", new Dictionary<string, object> { ["5"] = 101 }),
            ("logit_bias", new Dictionary<string, object> { ["99999999"] = 1 }), ("logit_bias", new[] { 1, 2 }),
        })
        {
            var bad = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 4, [field] = value };
            var (badStatus, error, _) = await f.PostAsync("/v1/chat/completions", bad, key);
            Assert.True(badStatus == 400, $"{field}: {badStatus} {error?.ToJsonString()}");
            Assert.Equal(field, (string?)error!["error"]!["param"]);
        }
    }

    internal const string MoodSchema = """{"type":"object","properties":{"mood":{"enum":["calm","busy","old"]},"year":{"type":"integer"},"open":{"type":"boolean"}},"required":["mood","year","open"],"additionalProperties":false}""";

    [Fact]
    public async Task JsonResponseFormats_DecodeAsConstrainedTargetOnlyDecoding_AndTheRepliesParse_AndBadSchemasAreRefusedByName()
    {
        string key = f.ServiceKey("json");
        const string question = "Describe the city";
        foreach (var (format, settings) in new (object Format, GenerationSettings Settings)[]
        {
            (new { type = "json_schema", json_schema = new { name = "city", strict = true, schema = JsonNode.Parse(MoodSchema) } },
                Greedy(64) with { Format = OutputFormat.JsonSchema, JsonSchema = MoodSchema }),
            (new { type = "json_object" }, Greedy(64) with { Format = OutputFormat.JsonObject, Temperature = 0.8, Seed = 17 }),
        })
        {
            var prompt = f.NewConversationPrompt(settings, Array.Empty<ChatTurn>(), question);
            var expected = f.ReferenceReply(prompt, settings);
            var request = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 64,
                ["temperature"] = settings.Temperature, ["seed"] = (long)settings.Seed!.Value, ["response_format"] = format };
            var (status, body, session) = await f.PostAsync("/v1/chat/completions", request, key);
            Assert.True(status == 200, body?.ToJsonString());
            Assert.Equal(expected, await f.SessionReplyTokensAsync(session!));
            string content = (string)body!["choices"]![0]!["message"]!["content"]!;
            string finish = (string)body["choices"]![0]!["finish_reason"]!;
            var grammar = settings.JsonSchema is { } schema ? Inference.Constraints.JsonGrammar.FromSchema(schema) : Inference.Constraints.JsonGrammar.AnyObject;
            Assert.True(grammar.Start().Advance(System.Text.Encoding.UTF8.GetBytes(content)) is not null, $"not JSON of the format, nor a prefix of it: {JsonSerializer.Serialize(content)}");
            // The demo model rambles inside free strings, so only the schema without one must end within the limit.
            if (settings.JsonSchema is not null)
                Assert.True(finish == "stop", $"the demo model's constrained reply did not end within 64 tokens: {JsonSerializer.Serialize(content)}");
            if (finish == "stop")
            {
                using var document = JsonDocument.Parse(content);
                Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
                if (settings.JsonSchema is { } s)
                    Assert.True(Json.Schema.JsonSchema.FromText(s).Evaluate(document.RootElement).IsValid, $"{content} does not match {s}");
            }

            // Streamed: the same text, chunk by chunk.
            request["stream"] = true;
            using var streamed = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key, JsonSerializer.Serialize(request));
            var text = string.Concat((await streamed.Content.ReadAsStringAsync()).Replace("\r", "").Split('\n')
                .Where(l => l.StartsWith("data: {")).Select(l => JsonNode.Parse(l["data: ".Length..])!)
                .SelectMany(e => e["choices"]!.AsArray()).Select(c => (string?)c!["delta"]?["content"] ?? ""));
            Assert.Equal(content, text);
        }

        // Completions take it too (as vLLM does).
        var (cs, completion, _) = await f.PostAsync("/v1/completions", new Dictionary<string, object> { ["model"] = "target",
            ["prompt"] = "The city", ["max_tokens"] = 64, ["temperature"] = 0, ["response_format"] = new { type = "json_object" } }, key);
        Assert.True(cs == 200, completion?.ToJsonString());
        var completionText = (string)completion!["choices"]![0]!["text"]!;
        Assert.True(Inference.Constraints.JsonGrammar.AnyObject.Start().Advance(System.Text.Encoding.UTF8.GetBytes(completionText.TrimStart())) is not null,
            $"the completion is not a JSON object or a prefix of one: {completionText}");

        // Outside the subset, malformed, or of an unknown type: a 400 naming the field, before any token is decoded.
        foreach (var (param, bad, named) in new (string, object, string)[]
        {
            ("response_format", new { type = "json_schema", json_schema = new { name = "x", schema = JsonNode.Parse("""{"type":"object","properties":{"a":{"type":"string","pattern":"^x"}}}""") } }, "pattern"),
            ("response_format", new { type = "json_schema", json_schema = new { name = "x", schema = JsonNode.Parse("""{"type":"array"}""") } }, "root"),
            ("response_format.json_schema.schema", new { type = "json_schema", json_schema = new { name = "x" } }, "schema"),
            ("response_format.type", new { type = "xml" }, "xml"),
            ("response_format", "json", "type"),
        })
        {
            var request = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 4, ["response_format"] = bad };
            var (badStatus, error, _) = await f.PostAsync("/v1/chat/completions", request, key);
            Assert.True(badStatus == 400, $"{param}: {badStatus} {error?.ToJsonString()}");
            Assert.Equal(param, (string?)error!["error"]!["param"]);
            Assert.Contains(named, (string)error["error"]!["message"]!);
        }
    }

    internal const string WeatherTool = """{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.", "parameters": {"type": "object", "properties": {"city": {"enum": ["Paris", "Rome", "Oslo"]}, "days": {"type": "integer", "minimum": 1, "maximum": 14}}, "required": ["city", "days"], "additionalProperties": false}}}""";
    internal const string AddTool = """{"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["a", "b"]}}}""";

    [Fact]
    public async Task Tools_AForcedCallParses_AsConstrainedTargetOnlyDecoding_StreamedToo_AndAToolResultContinues()
    {
        string key = f.ServiceKey("tools");
        const string question = "What is the weather in Rome?";
        var tools = new[] { JsonNode.Parse(WeatherTool)!, JsonNode.Parse(AddTool)! };
        // The demo tokenizer has no <tool_call> token: the tags are spelled piece by piece, hence the room.
        var named = Greedy(160) with { Tools = [WeatherTool, AddTool], ToolChoice = "function", ToolName = "get_weather" };
        var expected = f.ReferenceReply(f.NewConversationPrompt(named, Array.Empty<ChatTurn>(), question), named);
        var request = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 160, ["temperature"] = 0,
            ["tools"] = tools, ["tool_choice"] = new { type = "function", function = new { name = "get_weather" } } };
        var (status, body, session) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(status == 200, body?.ToJsonString());
        Assert.Equal(expected, await f.SessionReplyTokensAsync(session!));
        var choice = body!["choices"]![0]!;
        Assert.True((string)choice["finish_reason"]! == "tool_calls", choice.ToJsonString());
        var call = choice["message"]!["tool_calls"]![0]!;
        Assert.Equal("function", (string)call["type"]!);
        Assert.StartsWith("call_", (string)call["id"]!);
        Assert.Equal("get_weather", (string)call["function"]!["name"]!);
        string arguments = (string)call["function"]!["arguments"]!;
        using (var parsed = JsonDocument.Parse(arguments))
        {
            var parameters = JsonNode.Parse(WeatherTool)!["function"]!["parameters"]!.ToJsonString();
            Assert.True(Json.Schema.JsonSchema.FromText(parameters).Evaluate(parsed.RootElement).IsValid, arguments);
        }

        // Streamed: the same call, its name in a first tool_calls delta, its arguments in the ones after as the model writes
        // them, then finish_reason tool_calls.
        request["stream"] = true;
        using (var streamed = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key, JsonSerializer.Serialize(request)))
        {
            var events = (await streamed.Content.ReadAsStringAsync()).Replace("\r", "").Split('\n')
                .Where(l => l.StartsWith("data: {")).Select(l => JsonNode.Parse(l["data: ".Length..])!).SelectMany(e => e["choices"]!.AsArray()).ToList();
            var deltas = events.Select(c => c!["delta"]?["tool_calls"]).Where(d => d is not null).Select(d => d![0]!).ToList();
            Assert.Equal("get_weather", (string)deltas[0]["function"]!["name"]!);
            Assert.StartsWith("call_", (string)deltas[0]["id"]!);
            Assert.All(deltas, d => Assert.Equal(0, (int)d["index"]!));
            Assert.All(deltas.Skip(1), d => Assert.Null(d["function"]!["name"]));
            Assert.Equal(arguments, string.Concat(deltas.Select(d => (string)d["function"]!["arguments"]!)));
            Assert.True(deltas.Count > 2, $"the arguments came in {deltas.Count - 1} delta(s), not as they were written: " + string.Join(" | ", events.Select(e => e!.ToJsonString())));
            Assert.Equal("tool_calls", (string)events.Last(c => c!["finish_reason"] is not null)!["finish_reason"]!);
        }
        request.Remove("stream");

        // "required" with two tools: one call to either, any object as arguments (which the demo model may fill past the
        // token limit: then the reply is the call so far, as text).
        request["tool_choice"] = "required";
        var (rs, required, _) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(rs == 200, required?.ToJsonString());
        var requiredChoice = required!["choices"]![0]!;
        if ((string)requiredChoice["finish_reason"]! == "tool_calls")
            Assert.Contains((string)requiredChoice["message"]!["tool_calls"]![0]!["function"]!["name"]!, new[] { "get_weather", "add" });
        else
            Assert.StartsWith("<tool_call>\n", (string)requiredChoice["message"]!["content"]!);

        // parallel_tool_calls false: "required" is answered by exactly one call (true, the default, allows several).
        request["parallel_tool_calls"] = false;
        var (single, one, _) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(single == 200, one?.ToJsonString());
        var oneChoice = one!["choices"]![0]!;
        if ((string)oneChoice["finish_reason"]! == "tool_calls") Assert.Single(oneChoice["message"]!["tool_calls"]!.AsArray());
        request["parallel_tool_calls"] = "yes";
        var (refused, why, _) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(refused == 400 && why!.ToJsonString().Contains("parallel_tool_calls"), why?.ToJsonString());
        request.Remove("parallel_tool_calls");

        // The tool's result continues the conversation (sent whole): the reply is what target-only decoding gives for the
        // conversation with the call and its result rendered by the template.
        var auto = Greedy(16) with { Tools = [WeatherTool, AddTool], ToolChoice = "auto" };
        var history = new[] { new ChatTurn("user", question), new ChatTurn("assistant", "") { ToolCalls = [new ChatTurnToolCall("call_1", "get_weather", arguments)] } };
        var continued = f.ReferenceReply(f.NewConversationPrompt(auto, history, "18 C and sunny", role: "tool"), auto);
        var followUp = new Dictionary<string, object>
        {
            ["model"] = "target", ["max_tokens"] = 16, ["temperature"] = 0, ["tools"] = tools, ["tool_choice"] = "auto",
            ["messages"] = new object[] { User(question),
                new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments } } } },
                new { role = "tool", tool_call_id = "call_1", content = "18 C and sunny" } },
        };
        var (fs, followed, followedSession) = await f.PostAsync("/v1/chat/completions", followUp, key);
        Assert.True(fs == 200, followed?.ToJsonString());
        // Call ids are bounded (they are stored with the conversation): a longer one is a 400 naming it, before any grain.
        string longId = new string('c', ChatTurn.MaxToolCallIdChars + 1);
        foreach (var (messages, param) in new[]
        {
            (new object[] { User(question), new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = "call_1", type = "function", function = new { name = "get_weather", arguments } } } },
                new { role = "tool", tool_call_id = longId, content = "18 C" } }, "messages[2].tool_call_id"),
            (new object[] { User(question), new { role = "assistant", content = (string?)null, tool_calls = new[] { new { id = longId, type = "function", function = new { name = "get_weather", arguments } } } },
                new { role = "tool", tool_call_id = "call_1", content = "18 C" } }, "messages[1].tool_calls[0].id"),
        })
        {
            var (idStatus, idBody, _) = await f.PostAsync("/v1/chat/completions", new Dictionary<string, object>(followUp) { ["messages"] = messages }, key);
            Assert.True(idStatus == 400 && idBody!.ToJsonString().Contains(param), idBody?.ToJsonString());
        }
        Assert.Equal(continued, await f.SessionReplyTokensAsync(followedSession!));

        // What cannot be honoured is refused by name.
        foreach (var (param, change) in new (string, Action<Dictionary<string, object>>)[]
        {
            ("tools", r => r["tool_choice"] = new { type = "function", function = new { name = "fly" } }),
            ("tools", r => r["tools"] = new object[] { new { type = "function", function = new { name = "bad name!" } } }),
            ("tool_choice", r => { r.Remove("tools"); r["tool_choice"] = "required"; }),
            ("tool_choice", r => r["tool_choice"] = "sometimes"),
            ("tools", r => r["response_format"] = new { type = "json_object" }),
        })
        {
            var bad = new Dictionary<string, object>(request);
            change(bad);
            var (badStatus, error, _) = await f.PostAsync("/v1/chat/completions", bad, key);
            Assert.True(badStatus == 400, $"{param}: {badStatus} {error?.ToJsonString()}");
            Assert.Equal(param, (string?)error!["error"]!["param"]);
        }
    }

    [Fact]
    public async Task Logprobs_AreTheTargetsOwn_WholeAndStreamed_ChatAndCompletions()
    {
        string key = f.ServiceKey("logprobs");
        const string question = "The history of the city begins";
        var settings = new GenerationSettings { Temperature = 0.8, TopP = 0.9, Seed = 99, MaxNewTokens = 12 };
        var prompt = f.NewConversationPrompt(settings, Array.Empty<ChatTurn>(), question);
        var expectedTokens = f.ReferenceReply(prompt, settings);
        var expected = f.ReferenceLogprobs(prompt, settings, 3);
        Assert.Equal(expectedTokens.Length, expected.Count);
        void AssertClose(double want, JsonNode? got, string what) =>
            Assert.True(Math.Abs(want - (double)got!) < 1e-3, $"{what}: expected {want}, got {got}");

        var request = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 12,
            ["temperature"] = 0.8, ["top_p"] = 0.9, ["seed"] = 99, ["logprobs"] = true, ["top_logprobs"] = 3 };
        var (status, body, session) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(status == 200, body?.ToJsonString());
        Assert.Equal(expectedTokens, await f.SessionReplyTokensAsync(session!));
        var content = body!["choices"]![0]!["logprobs"]!["content"]!.AsArray();
        Assert.Equal(expected.Count, content.Count);
        var bytes = new List<byte>();
        for (int j = 0; j < expected.Count; j++)
        {
            AssertClose(expected[j].Logprob, content[j]!["logprob"], $"token {j}");
            bytes.AddRange(content[j]!["bytes"]!.AsArray().Select(b => (byte)(int)b!));
            var top = content[j]!["top_logprobs"]!.AsArray();
            Assert.Equal(expected[j].TopTokens.Length, top.Count);
            for (int k = 0; k < top.Count; k++) AssertClose(expected[j].TopLogprobs[k], top[k]!["logprob"], $"token {j} alternative {k}");
        }
        // The tokens' bytes are the reply's text (and an end-of-sequence token's, which the text does not show).
        Assert.StartsWith((string)body["choices"]![0]!["message"]!["content"]!, System.Text.Encoding.UTF8.GetString(bytes.ToArray()));

        // Streamed: the same numbers, spread over the chunks.
        request["stream"] = true;
        using var streamed = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key, System.Text.Json.JsonSerializer.Serialize(request));
        var events = (await streamed.Content.ReadAsStringAsync()).Replace("\r", "").Split('\n')
            .Where(l => l.StartsWith("data: {")).Select(l => JsonNode.Parse(l["data: ".Length..])!).ToList();
        var streamedLogprobs = events.SelectMany(e => e["choices"]!.AsArray())
            .SelectMany(c => c!["logprobs"]?["content"]?.AsArray() ?? new JsonArray()).ToList();
        Assert.Equal(expected.Count, streamedLogprobs.Count);
        for (int j = 0; j < expected.Count; j++) AssertClose(expected[j].Logprob, streamedLogprobs[j]!["logprob"], $"streamed token {j}");

        // Not asked for: null, as OpenAI writes it.
        request.Remove("stream"); request.Remove("logprobs"); request.Remove("top_logprobs");
        var (_, plain, _) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.Null(plain!["choices"]![0]!["logprobs"]);

        // Text completions: parallel arrays, greedy reporting the model's own distribution.
        var greedy = Greedy(8) with { UseChatTemplate = false };
        var raw = f.NewConversationPrompt(greedy, Array.Empty<ChatTurn>(), "In the morning the farmers");
        var rawExpected = f.ReferenceLogprobs(raw, greedy, 2);
        var (cs, completion, _) = await f.PostAsync("/v1/completions", new Dictionary<string, object> { ["model"] = "target",
            ["prompt"] = "In the morning the farmers", ["max_tokens"] = 8, ["temperature"] = 0, ["logprobs"] = 2 }, key);
        Assert.True(cs == 200, completion?.ToJsonString());
        var lp = completion!["choices"]![0]!["logprobs"]!;
        Assert.Equal(rawExpected.Count, lp["token_logprobs"]!.AsArray().Count);
        for (int j = 0; j < rawExpected.Count; j++)
        {
            AssertClose(rawExpected[j].Logprob, lp["token_logprobs"]![j], $"completion token {j}");
            // Greedy emits the likeliest token: it heads its own alternatives.
            AssertClose(rawExpected[j].Logprob, lp["top_logprobs"]![j]![(string)lp["tokens"]![j]!], $"completion token {j} among its alternatives");
            Assert.Equal(2, lp["top_logprobs"]![j]!.AsObject().Count);
        }
        Assert.StartsWith((string)completion["choices"]![0]!["text"]!, string.Concat(lp["tokens"]!.AsArray().Select(t => (string)t!)));

        foreach (var (extra, param) in new[] { ("\"top_logprobs\": 2", "top_logprobs"), ("\"logprobs\": true, \"top_logprobs\": 21", "top_logprobs") })
        {
            var (refusedStatus, refused, _) = await f.PostAsync("/v1/chat/completions",
                "{\"model\": \"target\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], " + extra + "}", key);
            Assert.Equal(400, refusedStatus);
            Assert.Equal(param, (string?)refused!["error"]!["param"]);
        }
    }

    [Fact]
    public async Task StopString_EndsTheReplyBeforeIt_WithFinishReasonStop()
    {
        string key = f.ServiceKey("stops");
        const string question = "Write a short note about rivers";
        var prompt = f.NewConversationPrompt(Greedy(40), Array.Empty<ChatTurn>(), question);
        string full = f.Decode(f.ReferenceReply(prompt, Greedy(40)));
        // A stop string taken from the middle of the greedy reply (past its first few characters).
        string stop = full.Substring(full.Length / 2, 3);
        var (status, body, session) = await f.PostAsync("/v1/chat/completions", Chat(new[] { User(question) }, 40, stop: new[] { stop, "never-appears" }), key);
        Assert.True(status == 200, body?.ToJsonString());
        var expected = f.ReferenceReply(prompt, Greedy(40, null, stop, "never-appears"));
        Assert.Equal(expected, await f.SessionReplyTokensAsync(session!));
        string text = (string)body!["choices"]![0]!["message"]!["content"]!;
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], text);
        Assert.Equal("stop", (string)body["choices"]![0]!["finish_reason"]!);
    }

    [Fact]
    public async Task Seed_GivesTheSameSampleAsTargetOnlySamplingWithThatSeed()
    {
        string key = f.ServiceKey("seeds");
        const string question = "What is the capital of the state";
        var request = new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User(question) }, ["max_tokens"] = 20, ["temperature"] = 0.9, ["top_p"] = 0.95, ["seed"] = 4242 };
        var (status, body, session) = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.True(status == 200, body?.ToJsonString());
        var settings = new GenerationSettings { Temperature = 0.9, TopP = 0.95, Seed = 4242, MaxNewTokens = 20 };
        var expected = f.ReferenceReply(f.NewConversationPrompt(settings, Array.Empty<ChatTurn>(), question), settings);
        Assert.Equal(expected, await f.SessionReplyTokensAsync(session!));
        Assert.Equal(f.Decode(expected), (string)body!["choices"]![0]!["message"]!["content"]!);
        // The same request again is the same sample; another seed is another one.
        var again = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.Equal(body.ToJsonString().Split("\"choices\"")[1], again.Body!.ToJsonString().Split("\"choices\"")[1]);
        request["seed"] = 4243;
        var other = await f.PostAsync("/v1/chat/completions", request, key);
        Assert.NotEqual(expected, await f.SessionReplyTokensAsync(other.Session!));
    }

    [Fact]
    public async Task FollowUpTurn_ContinuesItsSession_AndConcurrentExtensionsFork()
    {
        string key = f.ServiceKey("follow");
        var first = new[] { new ChatTurn("user", "He said that the committee would") };
        var (s1, b1, session1) = await f.PostAsync("/v1/chat/completions", Chat(Messages(first), 16), key);
        Assert.True(s1 == 200, b1?.ToJsonString());
        var prompt1 = f.NewConversationPrompt(Greedy(16), Array.Empty<ChatTurn>(), first[0].Content);
        var reply1 = await f.SessionReplyTokensAsync(session1!);
        Assert.Equal(f.ReferenceReply(prompt1, Greedy(16)), reply1);

        // The follow-up carries the conversation exactly as returned: it continues the same session from its cache.
        var second = first.Append(new ChatTurn("assistant", (string)b1!["choices"]![0]!["message"]!["content"]!)).Append(new ChatTurn("user", "And then?")).ToArray();
        var (s2, b2, session2) = await f.PostAsync("/v1/chat/completions", Chat(Messages(second), 16), key);
        Assert.True(s2 == 200, b2?.ToJsonString());
        Assert.Equal(session1, session2);
        var committed = prompt1.Concat(reply1).ToArray();
        var prompt2 = committed.Concat(f.NextTurn(committed, Greedy(16), "And then?")).ToArray();
        Assert.Equal(prompt2.Length, (int)b2!["usage"]!["prompt_tokens"]!);
        // What the verifier held: every committed token but the last, whose keys it computes with the new turn.
        Assert.Equal(committed.Length - 1, (int)b2["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        Assert.Equal(f.ReferenceReply(prompt2, Greedy(16)), await f.SessionReplyTokensAsync(session2!));

        // Two concurrent extensions of that conversation: one continues the session, the other forks a new one
        // (encoded again; the prefix cache may hold its first blocks, as far as its tokens match the session's); each
        // equals greedy decoding of its own prompt.
        var third = second.Append(new ChatTurn("assistant", (string)b2["choices"]![0]!["message"]!["content"]!)).ToArray();
        var a = third.Append(new ChatTurn("user", "Tell me more.")).ToArray();
        var b = third.Append(new ChatTurn("user", "Why?")).ToArray();
        var results = await Task.WhenAll(f.PostAsync("/v1/chat/completions", Chat(Messages(a), 12), key), f.PostAsync("/v1/chat/completions", Chat(Messages(b), 12), key));
        Assert.All(results, r => Assert.True(r.Status == 200, r.Body?.ToJsonString()));
        Assert.Single(results, r => r.Session == session1);
        Assert.Single(results, r => r.Session != session1);
        var fork = results.Single(r => r.Session != session1);
        var forked = fork == results[0] ? a : b;
        var forkPrompt = f.NewConversationPrompt(Greedy(12), forked[..^1], forked[^1].Content);
        Assert.Equal(forkPrompt.Length, (int)fork.Body!["usage"]!["prompt_tokens"]!);
        int forkCached = (int)fork.Body!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!;
        Assert.True(forkCached % 32 == 0 && forkCached < forkPrompt.Length, $"a new session reuses whole prefix blocks only (got {forkCached})");
        Assert.Equal(f.ReferenceReply(forkPrompt, Greedy(12)), await f.SessionReplyTokensAsync(fork.Session!));
    }

    [Fact]
    public async Task ExplicitSession_ContinuesTheNamedConversation_OfTheCallersTenantOnly()
    {
        string key = f.ServiceKey("named");
        string session = "named/chat-" + Guid.NewGuid().ToString("N");
        var (s1, b1, h1) = await f.PostAsync("/v1/chat/completions", Chat(new[] { User("Two plus two equals") }, 8), key, sessionHeader: session);
        Assert.True(s1 == 200, b1?.ToJsonString());
        Assert.Equal(session, h1);
        var (s2, b2, _) = await f.PostAsync("/v1/chat/completions",
            new Dictionary<string, object> { ["model"] = "target", ["messages"] = new[] { User("Again") }, ["max_tokens"] = 8, ["temperature"] = 0, ["session"] = session }, key);
        Assert.True(s2 == 200, b2?.ToJsonString());
        int cached = (int)b2!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!;
        Assert.Equal((int)b1!["usage"]!["total_tokens"]! - 1, cached);
        var snapshot = await f.Client.GetGrain<ISessionGrain>(session).GetAsync();
        Assert.Equal(4, snapshot.Messages.Length);

        // Another tenant's key cannot name it (refused before any grain call), and the conversation is unchanged.
        var (s3, b3, _) = await f.PostAsync("/v1/chat/completions", Chat(new[] { User("Hijack") }, 8), f.ServiceKey("mallory"), sessionHeader: session);
        Assert.Equal(403, s3);
        Assert.Equal("session", (string?)b3!["error"]!["param"]);
        Assert.Equal(4, (await f.Client.GetGrain<ISessionGrain>(session).GetAsync()).Messages.Length);
    }

    [Fact]
    public async Task AnotherTenantSendingTheSameConversation_DoesNotContinueIt()
    {
        var first = new[] { new ChatTurn("user", "Translate: the house is red") };
        var (_, b1, session1) = await f.PostAsync("/v1/chat/completions", Chat(Messages(first), 8), f.ServiceKey("alice"));
        var next = first.Append(new ChatTurn("assistant", (string)b1!["choices"]![0]!["message"]!["content"]!)).Append(new ChatTurn("user", "Thanks")).ToArray();
        var (s2, b2, session2) = await f.PostAsync("/v1/chat/completions", Chat(Messages(next), 8), f.ServiceKey("bob"));
        Assert.True(s2 == 200, b2?.ToJsonString());
        Assert.StartsWith("bob/", session2);
        Assert.NotEqual(session1, session2);
        Assert.Equal(0, (int)b2!["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
    }

    private static int _errorKeys;

    [Theory]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "n": 9}""", 400, "n")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "n": 0}""", 400, "n")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f g"}}]}""", 400, "tools")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "tools": {"type": "function"}}""", 400, "tools")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "logprobs": "yes"}""", 400, null)]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}""", 400, "temperature")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "temperature": "warm"}""", 400, "temperature")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "top_p": 0}""", 400, "top_p")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}""", 400, "max_tokens")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100000}""", 400, "max_tokens")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "stop": ["a", ""]}""", 400, "stop")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "stop": 5}""", 400, "stop")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "stream_options": {"include_usage": true}}""", 400, "stream_options")]
    [InlineData("""{"model": "target", "messages": [{"role": "assistant", "content": "hi"}]}""", 400, "messages")]
    [InlineData("""{"model": "target", "messages": [{"role": "function", "content": "hi"}]}""", 400, "messages[0].role")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c"}]}, {"role": "tool", "content": "1"}]}""", 400, "messages[1].tool_calls[0]")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}""", 400, "messages[0].content[0]")]
    [InlineData("""{"model": "target", "messages": []}""", 400, "messages")]
    [InlineData("""{"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}""", 404, "model")]
    [InlineData("""{"messages": [{"role": "user", "content": "hi"}]}""", 400, "model")]
    [InlineData("""{"model": "target", "messages": [{"role": "user", "content": "hi"}""", 400, null)]
    public async Task BadRequests_GetOpenAisErrorShape_NamingTheParameter(string body, int status, string? param)
    {
        // A key per case: the theory's cases outnumber one key's burst (20) of the fixture's rate limit.
        var (code, response, _) = await f.PostAsync("/v1/chat/completions", body, f.ServiceKey($"errors-{Interlocked.Increment(ref _errorKeys)}"));
        Assert.Equal(status, code);
        var error = response!["error"]!;
        Assert.False(string.IsNullOrWhiteSpace((string?)error["message"]));
        Assert.NotNull((string?)error["type"]);
        if (param is not null) Assert.Equal(param, (string?)error["param"]);
    }

    [Fact]
    public async Task Errors_SpeakTheApisTerms_NeverDotNetTypesOrOptionNames()
    {
        string key = f.ServiceKey("words");
        foreach (var (body, param, says) in new[]
        {
            ("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "max_tokens": "many"}""", "max_tokens", "an integer"),
            ("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "temperature": true}""", "temperature", "a number"),
            ("""{"model": "target", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100000}""", "max_tokens", "max_tokens"),
            ("""{"model": "target", "messages": {"role": "user"}}""", "messages", "an array"),
        })
        {
            var (status, response, _) = await f.PostAsync("/v1/chat/completions", body, key);
            string message = (string)response!["error"]!["message"]!;
            Assert.True(status == 400, message);
            Assert.Equal(param, (string?)response["error"]!["param"]);
            Assert.Contains(says, message);
            foreach (var internalWord in new[] { "System.", "Nullable", "SpecEdge", "MaxNewTokens", "OpenAi:" })
                Assert.DoesNotContain(internalWord, message);
        }
    }

    [Fact]
    public async Task ABusyConversation_Is409_WhichTheOfficialClientsAreToldNotToRetry()
    {
        string key = f.ServiceKey("busy");
        var (http, running, session) = await StartLongStreamAsync(key);
        using var _ = http;
        using var __ = running;
        using var reader = new StreamReader(await running.Content.ReadAsStreamAsync());
        for (int events = 0; events < 2;)
            if ((await reader.ReadLineAsync())?.StartsWith("data: ") == true) events++;

        using var busy = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key,
            """{"model": "target", "messages": [{"role": "user", "content": "And then?"}], "max_tokens": 4}""", session);
        string refusal = await busy.Content.ReadAsStringAsync();
        Assert.Equal(System.Net.HttpStatusCode.Conflict, busy.StatusCode);
        Assert.Equal("conversation_busy", (string?)System.Text.Json.Nodes.JsonNode.Parse(refusal)!["error"]!["code"]);
        Assert.Equal("false", busy.Headers.GetValues("x-should-retry").Single());
    }

    [Fact]
    public async Task TheConfiguredBrowserOrigin_MayCallTheApi_AndNoOtherOrigin()
    {
        async Task<HttpResponseMessage> PreflightAsync(string origin)
        {
            using var preflight = new HttpRequestMessage(HttpMethod.Options, f.BaseUrl + "/v1/chat/completions");
            preflight.Headers.Add("Origin", origin);
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            preflight.Headers.Add("Access-Control-Request-Headers", "authorization, content-type, x-stainless-os");
            return await f.Http.SendAsync(preflight);
        }
        using var allowed = await PreflightAsync(OpenAiSiloFixture.CorsOrigin);
        Assert.Equal(System.Net.HttpStatusCode.NoContent, allowed.StatusCode);
        Assert.Equal(OpenAiSiloFixture.CorsOrigin, allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("POST", string.Join(",", allowed.Headers.GetValues("Access-Control-Allow-Methods")));
        using var refused = await PreflightAsync("https://evil.example");
        Assert.False(refused.Headers.Contains("Access-Control-Allow-Origin"));

        // The call itself: the page may read the reply and our headers; the key is checked as for anyone.
        using var call = new HttpRequestMessage(HttpMethod.Get, f.BaseUrl + "/v1/models");
        call.Headers.Add("Origin", OpenAiSiloFixture.CorsOrigin);
        call.Headers.Authorization = new("Bearer", f.ServiceKey("cors"));
        using var models = await f.Http.SendAsync(call);
        Assert.Equal(System.Net.HttpStatusCode.OK, models.StatusCode);
        Assert.Equal(OpenAiSiloFixture.CorsOrigin, models.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Contains("X-SpecEdge-Session", string.Join(",", models.Headers.GetValues("Access-Control-Expose-Headers")));
        using var anonymous = new HttpRequestMessage(HttpMethod.Get, f.BaseUrl + "/v1/models");
        anonymous.Headers.Add("Origin", OpenAiSiloFixture.CorsOrigin);
        using var unauthorised = await f.Http.SendAsync(anonymous);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, unauthorised.StatusCode);
    }

    [Fact]
    public void CorsOriginsThatAreNotOrigins_AreRefusedByName()
    {
        foreach (var bad in new[] { "app.example", "https://app.example/", "https://app.example/path", "ftp://app.example" })
        {
            var e = Assert.Throws<InvalidOperationException>(() => new SpecEdge.OpenAi.OpenAiOptions { CorsOrigins = new[] { bad } }.Validate());
            Assert.Contains("OpenAi:CorsOrigins", e.Message);
        }
        new SpecEdge.OpenAi.OpenAiOptions { CorsOrigins = new[] { "*", "https://app.example", "http://localhost:5173" } }.Validate();
    }

    [Fact]
    public async Task UnknownFieldsAreIgnoredAndNamed_NoOpValuesPass_TopKIsHonoured_AndWhatCannotBeHonouredIs400()
    {
        string key = f.ServiceKey("lenient");
        string Body(string extra) => "{\"model\": \"target\", \"messages\": [{\"role\": \"user\", \"content\": \"The history of the city\"}], \"max_tokens\": 12" + extra + "}";
        using var lenient = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key, Body(
            ", \"temperature\": 1.0, \"top_k\": 1, \"metadata\": {\"app\": \"x\"}, \"store\": true, \"service_tier\": \"auto\"" +
            ", \"response_format\": {\"type\": \"text\"}, \"tools\": [], \"tool_choice\": \"none\", \"logprobs\": false, \"presence_penalty\": 0" +
            ", \"parallel_tool_calls\": true"));
        string lenientBody = await lenient.Content.ReadAsStringAsync();
        Assert.True(lenient.StatusCode == System.Net.HttpStatusCode.OK, lenientBody);
        var named = lenient.Headers.GetValues("X-SpecEdge-Ignored-Fields").Single().Split(", ");
        Assert.Equal(new[] { "metadata", "service_tier", "store" }, named.Order());
        // top_k 1 at temperature 1 is the greedy choice: the same text as temperature 0.
        var (_, greedy, _) = await f.PostAsync("/v1/chat/completions", Body(", \"temperature\": 0"), key);
        Assert.Equal((string)greedy!["choices"]![0]!["message"]!["content"]!, (string)System.Text.Json.Nodes.JsonNode.Parse(lenientBody)!["choices"]![0]!["message"]!["content"]!);

        foreach (var (extra, param) in new[]
        {
            (", \"min_p\": 1.5", "min_p"), (", \"response_format\": {\"type\": \"yaml\"}", "response_format.type"),
            (", \"frequency_penalty\": 2.5", "frequency_penalty"), (", \"tool_choice\": \"required\"", "tool_choice"), (", \"top_k\": -1", "top_k"),
        })
        {
            var (status, refused, _) = await f.PostAsync("/v1/chat/completions", Body(extra), key);
            Assert.Equal(400, status);
            Assert.Equal(param, (string?)refused!["error"]!["param"]);
        }

        // Field names are the caller's: one built to break out of the header, and a hundred more, are not echoed raw.
        string hostileFields = ", \"x\\r\\nX-Injected: 1\": 1" + string.Concat(Enumerable.Range(0, 100).Select(i => $", \"junk{i}\": {i + 1}"));
        using var hostile = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key, Body(", \"temperature\": 0" + hostileFields));
        Assert.Equal(System.Net.HttpStatusCode.OK, hostile.StatusCode);
        Assert.False(hostile.Headers.Contains("X-Injected"));
        string echoed = hostile.Headers.GetValues("X-SpecEdge-Ignored-Fields").Single();
        Assert.StartsWith("(a field with an unusual name), junk0, ", echoed);
        Assert.EndsWith("and 85 more", echoed);

        // Strict parameters (OpenAi:StrictParameters=true) refuse what lenient ones ignore, naming it.
        var request = System.Text.Json.JsonSerializer.Deserialize<SpecEdge.OpenAi.ChatCompletionRequest>(Body(", \"metadata\": {\"app\": \"x\"}"), SpecEdge.OpenAi.OpenAiJson.Options);
        var strict = Assert.Throws<SpecEdge.OpenAi.OpenAiException>(() => SpecEdge.OpenAi.RequestValidator.Chat(request, null, new[] { "target" }, new SpecEdge.OpenAi.OpenAiOptions { StrictParameters = true }));
        Assert.Equal("metadata", strict.Param);
    }

    [Fact]
    public async Task AClientThatGoesAway_StopsItsReplyWithinAStep_KeepsWhatWasCommitted_AndFreesTheConversation()
    {
        string key = f.ServiceKey("abort");
        var (http, response, session) = await StartLongStreamAsync(key);
        using var _ = http;
        using (var reader = new StreamReader(await response.Content.ReadAsStreamAsync()))
        {
            for (int events = 0; events < 3;)
                if ((await reader.ReadLineAsync())?.StartsWith("data: ") == true) events++;
        }
        response.Dispose();   // the client goes away mid-reply

        var grain = f.Client.GetGrain<ISessionGrain>(session);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while ((await grain.GetAsync()).Generating)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), "the reply went on generating after its client left");
            await Task.Delay(20);
        }
        output.WriteLine($"stopped {clock.ElapsedMilliseconds} ms after the client left");
        var kept = await f.SessionReplyTokensAsync(session);
        Assert.InRange(kept.Length, 1, 1499);

        // What was committed is the greedy reply's beginning: the same request cut at that length gives the same tokens.
        var (status, _, whole) = await f.PostAsync("/v1/chat/completions", new { model = "target", temperature = 0, max_tokens = kept.Length,
            messages = new[] { new { role = "user", content = "The history of the city" } } }, key);
        Assert.Equal(200, status);
        Assert.Equal(await f.SessionReplyTokensAsync(whole!), kept);

        // The conversation takes its next message at once.
        var (next, nextBody, _) = await f.PostAsync("/v1/chat/completions", new { model = "target", temperature = 0, max_tokens = 4,
            messages = new[] { new { role = "user", content = "And then?" } } }, key, sessionHeader: session);
        Assert.True(next == 200, nextBody?.ToJsonString());
    }

    [Fact]
    public async Task WrongMethodsAndUnknownPaths_AnswerInOpenAisErrorShape()
    {
        using var wrongMethod = await SendAsync(f.Http, HttpMethod.Get, f.BaseUrl + "/v1/chat/completions", f.ServiceKey("shape"));
        Assert.Equal(System.Net.HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
        Assert.Contains("POST", wrongMethod.Content.Headers.Allow);
        Assert.Equal("method_not_allowed", (string?)System.Text.Json.Nodes.JsonNode.Parse(await wrongMethod.Content.ReadAsStringAsync())!["error"]!["code"]);
        using var unknown = await SendAsync(f.Http, HttpMethod.Post, f.BaseUrl + "/v1/embeddings", f.ServiceKey("shape"), "{}");
        Assert.Equal(System.Net.HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("unknown_url", (string?)System.Text.Json.Nodes.JsonNode.Parse(await unknown.Content.ReadAsStringAsync())!["error"]!["code"]);
    }

    [Fact]
    public async Task AMessageOverTheSilosLimit_OrABodyOverTheApisLimit_IsRefused_AndOthersAreServed()
    {
        string key = f.ServiceKey("limits");
        var (status, body, _) = await f.PostAsync("/v1/chat/completions", Chat(new[] { User(new string('x', 40_000)) }, 8), key);
        Assert.Equal(400, status);
        Assert.Equal("messages", (string?)body!["error"]!["param"]);
        Assert.Contains("characters; the limit is", (string)body["error"]!["message"]!);
        var completion = await f.PostAsync("/v1/completions", new { model = "target", prompt = "", max_tokens = 4 }, key);
        Assert.Equal(400, completion.Status);
        Assert.Equal("prompt", (string?)completion.Body!["error"]!["param"]);
        // A 6 MB body: refused before it is parsed (curl, which reads the early answer while still sending).
        string file = Path.GetTempFileName();
        File.WriteAllText(file, System.Text.Json.JsonSerializer.Serialize(Chat(Enumerable.Range(0, 200).Select(_ => User(new string('y', 30_000))).ToArray(), 8)));
        string huge = await CurlAsync("-s", "-w", "\n%{http_code}", f.BaseUrl + "/v1/chat/completions", "-H", "Authorization: Bearer " + key,
            "-H", "Content-Type: application/json", "--data-binary", "@" + file);
        File.Delete(file);
        Assert.EndsWith("\n413", huge);
        Assert.Contains("larger than 4194304 bytes", huge);
        var fine = await f.PostAsync("/v1/chat/completions", Chat(new[] { User("hi") }, 4), key);
        Assert.Equal(200, fine.Status);
    }

    [Fact]
    public async Task AuthFailures_Are401InOpenAisShape_AndNoKeyReachesAGrain()
    {
        object request = Chat(new[] { User("hi") }, 4);
        string good = f.ServiceKey("auth");
        string tampered = good[..^2] + (good[^2] == 'A' ? "B" : "A") + good[^1];
        string expired = f.Issue(new AccessCredential { Role = CredentialRole.Service, Tenant = "auth" }, TimeSpan.FromSeconds(-10));
        string forged = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Service, Tenant = "auth", ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, SigningKeySet.CreateRandom("k1"));
        string edge = f.Issue(new AccessCredential { Role = CredentialRole.Edge, Tenant = "auth", ConversationId = "auth/x", EdgeId = "e", Chat = true });
        string op = f.Issue(new AccessCredential { Role = CredentialRole.Operator });
        foreach (var (name, key) in new (string, string?)[] { ("none", null), ("garbage", "sk-not-a-credential"), ("tampered", tampered), ("expired", expired), ("forged", forged), ("edge", edge), ("operator", op) })
        {
            var (status, body, session) = await f.PostAsync("/v1/chat/completions", request, key);
            Assert.True(status == 401, $"{name}: {status} {body?.ToJsonString()}");
            Assert.Equal("invalid_api_key", (string?)body!["error"]!["code"]);
            Assert.Null(session);
        }
        using var models = new HttpRequestMessage(HttpMethod.Get, f.BaseUrl + "/v1/models");
        Assert.Equal(401, (int)(await f.Http.SendAsync(models)).StatusCode);
        string curl = await CurlAsync("-s", "-o", "/dev/null", "-w", "%{http_code}", f.BaseUrl + "/v1/chat/completions", "-H", "Authorization: Bearer " + tampered, "-d", "{}");
        Assert.Equal("401", curl.Trim());
        Assert.Equal(200, (await f.PostAsync("/v1/chat/completions", request, good)).Status);
    }

    [Fact]
    public async Task Models_ListsTheServedModel()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, f.BaseUrl + "/v1/models");
        request.Headers.Authorization = new("Bearer", f.ServiceKey("models"));
        var body = JsonNode.Parse(await (await f.Http.SendAsync(request)).Content.ReadAsStringAsync())!;
        Assert.Equal("list", (string)body["object"]!);
        Assert.Equal(OpenAiSiloFixture.Model, (string)body["data"]![0]!["id"]!);
    }

    private static object[] Messages(IEnumerable<ChatTurn> turns) => turns.Select(t => (object)new { role = t.Role, content = t.Content }).ToArray();

    [Fact]
    public async Task AFloodFromOneKey_Gets429WithRetryAfter_WhileAnotherKeyIsServed()
    {
        // The fixture's silo allows 10 requests a second per key, in bursts of 20.
        string flooder = f.ServiceKey("flood"), neighbour = f.ServiceKey("calm");
        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => ModelsAsync(flooder)));
        int refused = responses.Count(r => r.StatusCode == System.Net.HttpStatusCode.TooManyRequests);
        int served = responses.Count(r => r.StatusCode == System.Net.HttpStatusCode.OK);
        Assert.Equal(200, refused + served);
        Assert.InRange(served, 20, 199);
        var sample = responses.First(r => r.StatusCode == System.Net.HttpStatusCode.TooManyRequests);
        Assert.True(sample.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "a 429 says when to retry");
        using var error = System.Text.Json.JsonDocument.Parse(await sample.Content.ReadAsStringAsync());
        Assert.Equal("rate_limit_exceeded", error.RootElement.GetProperty("error").GetProperty("code").GetString());

        Assert.Equal(System.Net.HttpStatusCode.OK, (await ModelsAsync(neighbour)).StatusCode);
        // Retry-After is honest: after waiting it (no fixed sleep), the flooder is served again.
        await Task.Delay(sample.Headers.RetryAfter!.Delta!.Value);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await ModelsAsync(flooder)).StatusCode);
    }

    /// <summary>
    /// A streamed greedy reply of up to 1500 tokens, its headers read: the client, the response and the conversation. The
    /// client closes its connection as soon as it stops reading (the default handler drains up to 2 s first).
    /// </summary>
    private async Task<(HttpClient Http, HttpResponseMessage Response, string Session)> StartLongStreamAsync(string key)
    {
        string body = System.Text.Json.JsonSerializer.Serialize(new
        {
            model = "target", temperature = 0, max_tokens = 1500, stream = true,
            messages = new[] { new { role = "user", content = "The history of the city" } },
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, f.BaseUrl + "/v1/chat/completions") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new("Bearer", key);
        var http = new HttpClient(new SocketsHttpHandler { ResponseDrainTimeout = TimeSpan.Zero, MaxResponseDrainSize = 0 });
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        return (http, response, response.Headers.GetValues("X-SpecEdge-Session").Single());
    }

    private static HttpClient From(string address) => LoopbackAlias.Http(address);

    internal static async Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string url, string? key, string? body = null, string? session = null)
    {
        using var request = new HttpRequestMessage(method, url);
        if (key is not null) request.Headers.Authorization = new("Bearer", key);
        if (body is not null) request.Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");
        if (session is not null) request.Headers.TryAddWithoutValidation(OpenAiEndpointsSessionHeader, session);
        var response = await http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    private const string OpenAiEndpointsSessionHeader = "X-SpecEdge-Session";

    [Fact]
    public async Task HostileSessionIds_Are400NamingTheRule_AndTouchNoConversation()
    {
        string key = f.ServiceKey("mallory");
        string victim = "local/victim-" + Guid.NewGuid().ToString("N")[..8];
        var victimSession = f.Client.GetGrain<ISessionGrain>(victim);
        await victimSession.ConfigureAsync(new GenerationSettings { Temperature = 0, MaxNewTokens = 4 });
        var before = await victimSession.GetAsync();
        using var http = From("127.0.0.3");
        string body = JsonSerializer.Serialize(Chat(new[] { User("Hijack") }, 4));
        foreach (var hostile in new[] { $"mallory/../{victim}", "mallory/./x", "mallory/%2e%2e/x", "mallory//x", "mallory/x\\y", "./x", "mallory/" + new string('x', 10_000) })
        {
            var response = await SendAsync(http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", key, body, hostile);
            string text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == 400, $"{hostile[..Math.Min(40, hostile.Length)]}: {(int)response.StatusCode} {text}");
            var error = JsonNode.Parse(text)!["error"]!;
            Assert.Equal("session", (string?)error["param"]);
            Assert.True(((string?)error["message"])?.Contains("conversation id") == true, text);
        }
        var after = await victimSession.GetAsync();
        Assert.Equal(before.Messages.Length, after.Messages.Length);
        Assert.Equal(before.Step, after.Step);
    }

    [Fact]
    public async Task FailedRequestsFromOneAddress_Get429BeforeTheirKeyIsChecked_WhileOtherAddressesAreServed()
    {
        using var attacker = From("127.0.0.2");
        string good = f.ServiceKey("address-limit");
        // 20 failures a second per address by default, in bursts of 40.
        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i =>
            SendAsync(attacker, HttpMethod.Get, f.BaseUrl + "/v1/models", $"sk-guess-{i:D6}")));
        int unauthorized = responses.Count(r => r.StatusCode == System.Net.HttpStatusCode.Unauthorized);
        int limited = responses.Count(r => r.StatusCode == System.Net.HttpStatusCode.TooManyRequests);
        Assert.Equal(200, unauthorized + limited);
        Assert.InRange(unauthorized, 40, 120);
        var sample = responses.First(r => r.StatusCode == System.Net.HttpStatusCode.TooManyRequests);
        Assert.True(sample.Headers.RetryAfter?.Delta >= TimeSpan.FromSeconds(1), "a 429 says when to retry");

        // Another address is served at once.
        Assert.Equal(System.Net.HttpStatusCode.OK, (await ModelsAsync(good)).StatusCode);
        // After the Retry-After it was told (no fixed sleep), the address's bucket has refilled enough.
        await Task.Delay(sample.Headers.RetryAfter!.Delta!.Value);
        Assert.Equal(System.Net.HttpStatusCode.OK, (await SendAsync(attacker, HttpMethod.Get, f.BaseUrl + "/v1/models", good)).StatusCode);
    }

    private async Task<HttpResponseMessage> ModelsAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, f.BaseUrl + "/v1/models");
        request.Headers.Authorization = new("Bearer", key);
        var response = await f.Http.SendAsync(request);
        await response.Content.LoadIntoBufferAsync();
        return response;
    }

    internal static async Task<string> CurlAsync(params string[] arguments)
    {
        var start = new ProcessStartInfo("curl") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        string output = await process.StandardOutput.ReadToEndAsync();
        string error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, $"curl exited with {process.ExitCode}: {error}");
        return output;
    }
}
