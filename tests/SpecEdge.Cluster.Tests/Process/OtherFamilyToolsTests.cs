using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Contracts.Security;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Tokenization;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Tools through a real silo's HTTP API for the two other families that render them, on tiny random-weight models with
/// the families' real tokenizers and chat templates (Llama 3's tokenizer with Llama 3.1's template; Llama 2's
/// SentencePiece vocabulary with Mistral's V3 control tokens added and Nemo's template). A forced call comes back as a
/// parseable call to the named function whose arguments match its schema (the grammar writes it in the family's form,
/// a logit bias towards closing characters makes the random model finish it); the call and its result, sent back, are
/// rendered by the family's template and answered.
/// </summary>
[Trait("Kind", "process")]
public sealed class OtherFamilyToolsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("specedge-families-").FullName;
    private readonly SigningKeySet _keys = SigningKeySet.CreateRandom("k1");
    private static readonly JsonNode WeatherTool = JsonNode.Parse("""
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"], "additionalProperties": false}}}
        """)!;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static string ReferenceModels(string package) =>
        Path.Combine(ClusterFixture.RepoRoot(), "tests", "tokenizer-reference", "node_modules", "@lenml", package, "models");

    private static string Template(string name) =>
        File.ReadAllText(Path.Combine(ClusterFixture.RepoRoot(), "tests", "tokenizer-reference", "chat-templates", name));

    /// <summary>A Hugging Face directory: a one-layer random Llama with <paramref name="vocab"/> ids, the tokenizer, a config with <paramref name="template"/>.</summary>
    private string ModelDirectory(string name, JsonNode tokenizer, int vocab, string template, int[] eos)
    {
        string dir = Path.Combine(_dir, name);
        var config = new ModelConfig
        {
            ModelType = "llama", VocabSize = vocab, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2,
            NumKeyValueHeads = 1, HeadDim = 16, TieWordEmbeddings = true, MaxPositionEmbeddings = 4096, EosTokenIds = eos,
        };
        using (var weights = ModelWeights.Random(config, 7, torch.ScalarType.Float32))
        using (var model = new CausalLm(config, weights, torch.ScalarType.Float32, torch.CPU))
            model.Save(dir);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tokenizer.ToJsonString());
        var tokenizerConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(ReferenceModels(name == "llama31" ? "tokenizer-llama3" : "tokenizer-llama2"), "tokenizer_config.json")))!;
        tokenizerConfig["chat_template"] = template;
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), tokenizerConfig.ToJsonString());
        File.WriteAllText(Path.Combine(dir, "generation_config.json"), new JsonObject { ["eos_token_id"] = new JsonArray(eos.Select(e => (JsonNode)e).ToArray()) }.ToJsonString());
        return dir;
    }

    private string Llama31Model() => ModelDirectory("llama31", JsonNode.Parse(File.ReadAllText(Path.Combine(ReferenceModels("tokenizer-llama3"), "tokenizer.json")))!,
        128256, Template("llama-3.1-instruct.jinja"), [128001, 128009]);

    /// <summary>Llama 2's vocabulary and the control tokens of Mistral's V3 tokenizers, as special added tokens after it.</summary>
    private string MistralModel()
    {
        var tokenizer = JsonNode.Parse(File.ReadAllText(Path.Combine(ReferenceModels("tokenizer-llama2"), "tokenizer.json")))!;
        var added = tokenizer["added_tokens"]!.AsArray();
        string[] control = ["[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]"];
        for (int i = 0; i < control.Length; i++)
            added.Add(new JsonObject { ["id"] = 32000 + i, ["content"] = control[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true });
        return ModelDirectory("mistral", tokenizer, 32000 + control.Length, Template("mistral-nemo-instruct-2407.jinja"), [2]);
    }

    [Fact]
    public Task Llama31_AForcedCallAndItsResult_GoThroughTheApi() => ForcedCallAndResultAsync(Llama31Model(), ChatFormatKind.Llama31);

    [Fact]
    public Task MistralV3_AForcedCallAndItsResult_GoThroughTheApi() => ForcedCallAndResultAsync(MistralModel(), ChatFormatKind.MistralV3);

    private async Task ForcedCallAndResultAsync(string model, ChatFormatKind kind)
    {
        var tokenizer = HfTokenizer.Load(model);
        Assert.Equal(kind, ChatFormat.For(tokenizer).Kind);
        // Towards the characters that close strings, objects and arrays: the random model then ends its call quickly.
        var bias = new JsonObject();
        foreach (string closing in new[] { "\"", "}", "]", "\"}", "}}", "}]", "\"}}" })
            if (tokenizer.TokenToId(closing) is int closingId) bias[closingId.ToString(System.Globalization.CultureInfo.InvariantCulture)] = 40;
        Assert.True(bias.Count >= 3, "the vocabulary lacks the closing characters");

        string keyFile = Path.Combine(_dir, "keys.json");
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(_keys.ActiveKey) + "\"}}");
        int siloPort = ExternalProcess.FreePort(), gatewayPort = ExternalProcess.FreePort(), httpPort = ExternalProcess.FreePort();
        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        using var silo = new ExternalProcess("silo-" + kind, Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo"), new[]
        {
            "--SpecEdge:TargetModel", model, "--SpecEdge:Threads", "1", "--SpecEdge:MaxContextTokens", "2048",
            "--Cluster:SiloName", "silo-" + kind, "--Cluster:SiloPort", siloPort.ToString(), "--Cluster:GatewayPort", gatewayPort.ToString(),
            "--Cluster:ClusterId", "families-" + kind, "--Cluster:ServiceId", "families-" + kind,
            "--Security:KeyFile", keyFile, "--urls", $"http://127.0.0.1:{httpPort}", "--Gateway:Port", "0",
        }, root);
        try
        {
            await silo.WaitForPortAsync(httpPort, TimeSpan.FromSeconds(120));
        }
        catch (Exception)
        {
            output.WriteLine(silo.Output);
            throw;
        }
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromMinutes(2) };
        string key = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Service, Tenant = "acme", ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, _keys);
        async Task<(int Status, string Text)> SendAsync(JsonObject body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            using var response = await http.SendAsync(request);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        async Task<JsonNode> PostAsync(JsonObject body)
        {
            var (status, text) = await SendAsync(body);
            Assert.True(status == 200, $"{status}: {text}\n{silo.Output}");
            return JsonNode.Parse(text)!;
        }

        var forced = await PostAsync(new JsonObject
        {
            ["model"] = Path.GetFileName(model), ["max_tokens"] = 96, ["temperature"] = 0, ["logit_bias"] = bias.DeepClone(),
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" }),
            ["tools"] = new JsonArray(WeatherTool.DeepClone()), ["tool_choice"] = "required",
        });
        var choice = forced["choices"]![0]!;
        output.WriteLine(choice.ToJsonString());
        Assert.Equal("tool_calls", (string)choice["finish_reason"]!);
        var call = Assert.Single(choice["message"]!["tool_calls"]!.AsArray())!;
        Assert.Equal("get_weather", (string)call["function"]!["name"]!);
        var arguments = JsonNode.Parse((string)call["function"]!["arguments"]!)!.AsObject();
        Assert.Equal(["city"], arguments.Select(p => p.Key));
        Assert.Equal(JsonValueKind.String, arguments["city"]!.GetValueKind());
        string id = (string)call["id"]!;
        if (kind == ChatFormatKind.MistralV3) Assert.Matches("^[A-Za-z0-9]{9}$", id);

        // The call and its result, sent back whole: rendered by the family's template (the result as an "ipython" turn or
        // [TOOL_RESULTS] naming the call), and answered with text (tool_choice "none").
        var answered = await PostAsync(new JsonObject
        {
            ["model"] = Path.GetFileName(model), ["max_tokens"] = 4, ["temperature"] = 0, ["tool_choice"] = "none", ["tools"] = new JsonArray(WeatherTool.DeepClone()),
            ["messages"] = new JsonArray(
                new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" },
                new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call.DeepClone()) },
                new JsonObject { ["role"] = "tool", ["tool_call_id"] = id, ["content"] = "18 C, sunny" }),
        });
        var reply = answered["choices"]![0]!;
        Assert.Null(reply["message"]!["tool_calls"]);
        Assert.True((int)answered["usage"]!["prompt_tokens"]! > 20, answered.ToJsonString());

        // Mistral's template names the call each result answers: a result without its call id is refused by name, before anything is written.
        if (kind == ChatFormatKind.MistralV3)
        {
            var (status, text) = await SendAsync(new JsonObject
            {
                ["model"] = Path.GetFileName(model), ["max_tokens"] = 4, ["tools"] = new JsonArray(WeatherTool.DeepClone()),
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "user", ["content"] = "Weather in Paris?" },
                    new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(call.DeepClone()) },
                    new JsonObject { ["role"] = "tool", ["content"] = "18 C, sunny" }),
            });
            Assert.True(status == 400 && text.Contains("tool_call_id"), $"{status}: {text}");
        }
    }
}
