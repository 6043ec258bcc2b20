using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Contracts;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// The official <c>openai</c> npm client (tests/openai-client, version pinned in its package.json) against the real
/// silo's API: streaming and not, stop strings, max tokens, seeds, errors, a bad key and a follow-up turn. Node runs the
/// requests (scenarios.mjs) and reports what the client parsed; the assertions compare it with target-only decoding.
/// </summary>
[Collection(OpenAiCollection.Name)]
[Trait("Kind", "process")]
public class OpenAiClientTests(OpenAiSiloFixture f, ITestOutputHelper output)
{
    private static GenerationSettings Greedy(int maxTokens, params string[] stops) => new() { Temperature = 0, MaxNewTokens = maxTokens, Seed = 0, StopStrings = stops };

    [Fact]
    public async Task OfficialClient_GetsTargetGreedyText_StreamedOrNot_AndItsErrors()
    {
        const string riverQuestion = "Write a short note about rivers", cityQuestion = "The history of the city begins";
        var riverPrompt = f.NewConversationPrompt(Greedy(20), Array.Empty<ChatTurn>(), riverQuestion);
        string riverGreedy = f.Decode(f.ReferenceReply(riverPrompt, Greedy(20)));
        string stop = riverGreedy.Substring(riverGreedy.Length / 2, 2);
        var seeded = new GenerationSettings { Temperature = 1.1, TopP = 0.9, Seed = 99, MaxNewTokens = 16 };
        var cityPrompt = f.NewConversationPrompt(seeded, Array.Empty<ChatTurn>(), cityQuestion);

        // Penalties and a bias that bans the greedy reply's first token: the client's request decides as target-only decoding does.
        var riverTokens = f.ReferenceReply(riverPrompt, Greedy(20));
        var penalised = Greedy(16) with { FrequencyPenalty = 1.0, PresencePenalty = 0.5, LogitBias = new() { [riverTokens[0]] = -100 } };
        var logitBias = new Dictionary<string, double> { [riverTokens[0].ToString(System.Globalization.CultureInfo.InvariantCulture)] = -100 };
        object User(string text) => new[] { new { role = "user", content = text } };
        var scenarios = new object[]
        {
            new { name = "whole", endpoint = "chat", @params = new { model = "target", messages = User(riverQuestion), temperature = 0, max_tokens = 20 } },
            new { name = "streamed", endpoint = "chat", @params = new { model = "target", messages = User(riverQuestion), temperature = 0, max_completion_tokens = 20, stream = true, stream_options = new { include_usage = true } } },
            new { name = "stopped", endpoint = "chat", @params = new { model = "target", messages = User(riverQuestion), temperature = 0, max_tokens = 20, stop = stop, stream = true } },
            new { name = "short", endpoint = "chat", @params = new { model = "target", messages = User(riverQuestion), temperature = 0, max_tokens = 3 } },
            new { name = "seeded", endpoint = "chat", @params = new { model = "target", messages = User(cityQuestion), temperature = 1.1, top_p = 0.9, seed = 99, max_tokens = 16, user = "player-7" } },
            new { name = "completion", endpoint = "completions", @params = new { model = "target", prompt = "Two plus two equals", temperature = 0, max_tokens = 10, stream = true } },
            new { name = "tooManyChoices", endpoint = "chat", @params = new { model = "target", messages = User("hi"), n = 9 } },
            new { name = "threeChoices", endpoint = "chat", @params = new { model = "target", messages = User(cityQuestion), temperature = 1.1, top_p = 0.9, seed = 99, max_tokens = 16, n = 3 } },
            new { name = "threeChoicesStreamed", endpoint = "chat", @params = new { model = "target", messages = User(cityQuestion), temperature = 1.1, top_p = 0.9, seed = 99, max_tokens = 16, n = 3, stream = true } },
            new { name = "penalised", endpoint = "chat", @params = new { model = "target", messages = User(riverQuestion), temperature = 0, max_tokens = 16, frequency_penalty = 1.0, presence_penalty = 0.5, logit_bias = logitBias } },
            new { name = "structured", endpoint = "chat", @params = new { model = "target", messages = User("Describe the city"), temperature = 0, max_tokens = 64,
                response_format = new { type = "json_schema", json_schema = new { name = "city", strict = true, schema = JsonNode.Parse(OpenAiHttpTests.MoodSchema) } } } },
            new { name = "toolCall", endpoint = "chat", @params = new { model = "target", messages = User("What is the weather in Rome?"), temperature = 0, max_tokens = 160,
                tools = new[] { JsonNode.Parse(OpenAiHttpTests.WeatherTool) }, tool_choice = new { type = "function", function = new { name = "get_weather" } } } },
            new { name = "toolCallStreamed", endpoint = "chat", @params = new { model = "target", messages = User("What is the weather in Rome?"), temperature = 0, max_tokens = 160,
                tools = new[] { JsonNode.Parse(OpenAiHttpTests.WeatherTool) }, tool_choice = new { type = "function", function = new { name = "get_weather" } }, stream = true } },
            new { name = "badKey", endpoint = "chat", apiKey = "sk-guess", @params = new { model = "target", messages = User("hi") } },
            new { name = "followUp", endpoint = "chat", followUp = new { of = "whole", text = "Tell me more." }, @params = new { model = "target", temperature = 0, max_tokens = 12 } },
        };
        var results = await RunClientAsync(scenarios);

        var whole = results["whole"]!;
        Assert.Equal(riverGreedy, (string)whole["text"]!);
        Assert.Equal("chat.completion", (string)whole["object"]!);
        Assert.Equal(riverPrompt.Length, (int)whole["usage"]!["prompt_tokens"]!);

        var streamed = results["streamed"]!;
        Assert.Equal(riverGreedy, (string)streamed["text"]!);
        Assert.Equal("assistant", (string)streamed["role"]!);
        Assert.Equal((string)whole["finish"]!, (string)streamed["finish"]!);
        Assert.Equal((int)whole["usage"]!["completion_tokens"]!, (int)streamed["usage"]!["completion_tokens"]!);
        Assert.True((int)streamed["events"]! > 3);

        var stopped = results["stopped"]!;
        Assert.Equal(riverGreedy[..riverGreedy.IndexOf(stop, StringComparison.Ordinal)], (string)stopped["text"]!);
        Assert.Equal("stop", (string)stopped["finish"]!);
        Assert.Equal(f.ReferenceReply(riverPrompt, Greedy(20, stop)), await f.SessionReplyTokensAsync((string)stopped["session"]!));

        var shortReply = results["short"]!;
        Assert.Equal("length", (string)shortReply["finish"]!);
        Assert.Equal(3, (int)shortReply["usage"]!["completion_tokens"]!);
        Assert.Equal(f.ReferenceReply(riverPrompt, Greedy(3)), await f.SessionReplyTokensAsync((string)shortReply["session"]!));

        var sample = f.ReferenceReply(cityPrompt, seeded);
        Assert.Equal(sample, await f.SessionReplyTokensAsync((string)results["seeded"]!["session"]!));
        Assert.Equal(f.Decode(sample), (string)results["seeded"]!["text"]!);

        var completionSettings = Greedy(10) with { UseChatTemplate = false };
        var completion = f.ReferenceReply(f.NewConversationPrompt(completionSettings, Array.Empty<ChatTurn>(), "Two plus two equals"), completionSettings);
        Assert.Equal(f.Decode(completion), (string)results["completion"]!["text"]!);

        Assert.Equal(400, (int)results["tooManyChoices"]!["error"]!["status"]!);
        Assert.Equal("n", (string)results["tooManyChoices"]!["error"]!["param"]!);
        // n = 3 with a seed: choice i is target-only sampling with seed 99 + i (choice 0 is what n = 1 gives), streamed or not.
        foreach (var name in new[] { "threeChoices", "threeChoicesStreamed" })
        {
            var texts = results[name]!["texts"]!.AsArray().Select(t => (string)t!).ToArray();
            Assert.Equal(3, texts.Length);
            for (int i = 0; i < 3; i++)
                Assert.Equal(f.Decode(f.ReferenceReply(cityPrompt, seeded with { Seed = 99 + (ulong)i })), texts[i]);
        }
        var penalisedReply = f.ReferenceReply(f.NewConversationPrompt(penalised, Array.Empty<ChatTurn>(), riverQuestion), penalised);
        Assert.NotEqual(riverTokens[0], penalisedReply[0]);
        Assert.Equal(penalisedReply, await f.SessionReplyTokensAsync((string)results["penalised"]!["session"]!));
        Assert.Equal(f.Decode(penalisedReply), (string)results["penalised"]!["text"]!);
        // Structured output: the client's json_schema request decodes as constrained target-only decoding does, and parses.
        var structured = Greedy(64) with { Format = OutputFormat.JsonSchema, JsonSchema = OpenAiHttpTests.MoodSchema };
        var structuredReply = f.ReferenceReply(f.NewConversationPrompt(structured, Array.Empty<ChatTurn>(), "Describe the city"), structured);
        Assert.Equal(structuredReply, await f.SessionReplyTokensAsync((string)results["structured"]!["session"]!));
        Assert.Equal("stop", (string)results["structured"]!["finish"]!);
        using (var json = System.Text.Json.JsonDocument.Parse((string)results["structured"]!["text"]!))
            Assert.True(Json.Schema.JsonSchema.FromText(OpenAiHttpTests.MoodSchema).Evaluate(json.RootElement).IsValid, (string)results["structured"]!["text"]!);
        // A forced tool call, whole and streamed: the client reads the same call, and its arguments parse and fit the tool.
        foreach (var name in new[] { "toolCall", "toolCallStreamed" })
        {
            var toolCall = results[name]!;
            Assert.True((string?)toolCall["finish"] == "tool_calls", toolCall.ToJsonString());
            var call = toolCall["toolCalls"]![0]!;
            Assert.Equal("get_weather", (string)call["function"]!["name"]!);
            using var arguments = System.Text.Json.JsonDocument.Parse((string)call["function"]!["arguments"]!);
            Assert.True(Json.Schema.JsonSchema.FromText(JsonNode.Parse(OpenAiHttpTests.WeatherTool)!["function"]!["parameters"]!.ToJsonString()).Evaluate(arguments.RootElement).IsValid);
        }
        Assert.Equal((string)results["toolCall"]!["toolCalls"]![0]!["function"]!["arguments"]!, (string)results["toolCallStreamed"]!["toolCalls"]![0]!["function"]!["arguments"]!);
        // Streamed as OpenAI streams calls: the arguments over several deltas, which the client puts together.
        Assert.True((int)results["toolCallStreamed"]!["toolDeltas"]! > 2, results["toolCallStreamed"]!.ToJsonString());
        Assert.Equal(401, (int)results["badKey"]!["error"]!["status"]!);
        Assert.Equal("invalid_api_key", (string)results["badKey"]!["error"]!["code"]!);

        // The follow-up, built by the client from the conversation as returned, continues a session that holds it
        // ("whole" and "streamed" hold the same conversation; the most recent one is continued).
        var followUp = results["followUp"]!;
        Assert.True(followUp["error"] is null, followUp.ToJsonString());
        Assert.Equal((string)streamed["session"]!, (string)followUp["session"]!);
        int committed = (int)whole["usage"]!["total_tokens"]!;
        // Every token the session held but the last, whose keys the verifier computes with the new turn.
        Assert.Equal(committed - 1, (int)followUp["usage"]!["prompt_tokens_details"]!["cached_tokens"]!);
        var riverReply = f.ReferenceReply(riverPrompt, Greedy(20));
        var prior = riverPrompt.Concat(riverReply).ToArray();
        var prompt2 = prior.Concat(f.NextTurn(prior, Greedy(12), "Tell me more.")).ToArray();
        Assert.Equal(f.ReferenceReply(prompt2, Greedy(12)), await f.SessionReplyTokensAsync((string)followUp["session"]!));
    }

    /// <summary>
    /// LangChain.js's <c>withStructuredOutput</c> on a zod schema (sent as json_schema, with zod's safe-integer bounds on
    /// the integer) parses the demo model's constrained reply into the schema's object, and <c>bindTools</c> with a forced
    /// call reads the call back. (Its JSON mode, json_object, is
    /// accepted too, but the demo model rambles inside a free string past any small token limit; the HTTP tests check
    /// json_object against target-only decoding instead.)
    /// </summary>
    [Fact]
    public async Task LangChain_WithStructuredOutput_ParsesTheConstrainedReply()
    {
        var results = await RunNodeAsync("langchain.mjs", new { baseURL = f.BaseUrl + "/v1", apiKey = f.ServiceKey("langchain"), model = "target", question = "Describe the city",
            tool = JsonNode.Parse(OpenAiHttpTests.WeatherTool), toolQuestion = "What is the weather in Rome?" });
        var result = results["jsonSchema"]!;
        Assert.True(result["error"] is null, result.ToJsonString());
        var parsed = result["parsed"]!;
        Assert.Contains((string)parsed["mood"]!, new[] { "calm", "busy", "old" });
        Assert.Equal(JsonValueKind.Number, parsed["year"]!.GetValueKind());
        Assert.Equal((double)(long)parsed["year"]!, (double)parsed["year"]!);
        Assert.Contains(parsed["open"]!.GetValueKind(), new[] { JsonValueKind.True, JsonValueKind.False });

        // bindTools with a forced call: LangChain parses the call (name and arguments object) from tool_calls.
        var bound = results["bindTools"]!;
        Assert.True(bound["error"] is null, bound.ToJsonString());
        var call = bound["toolCalls"]![0]!;
        Assert.Equal("get_weather", (string)call["name"]!);
        Assert.Contains((string)call["args"]!["city"]!, new[] { "Paris", "Rome", "Oslo" });
        Assert.InRange((int)call["args"]!["days"]!, 1, 14);
    }

    private Task<JsonObject> RunClientAsync(object[] scenarios) =>
        RunNodeAsync("scenarios.mjs", new { baseURL = f.BaseUrl + "/v1", apiKey = f.ServiceKey("node"), scenarios });

    private async Task<JsonObject> RunNodeAsync(string script, object input)
    {
        string dir = Path.Combine(ClusterFixture.RepoRoot(), "tests", "openai-client");
        Assert.True(Directory.Exists(Path.Combine(dir, "node_modules", "openai")), "tests/openai-client has no node_modules: run infra/test.sh (it runs npm ci there).");
        var start = new ProcessStartInfo("node", script)
        {
            WorkingDirectory = dir, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        await process.StandardInput.WriteAsync(JsonSerializer.Serialize(input));
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(5));
        output.WriteLine(stderr);
        Assert.True(process.ExitCode == 0, $"node exited with {process.ExitCode}: {stderr}");
        string json = await stdout;
        output.WriteLine(json);
        return JsonNode.Parse(json)!.AsObject();
    }
}
