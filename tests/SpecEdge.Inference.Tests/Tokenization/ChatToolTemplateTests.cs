using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>
/// Tools in the ChatML format render exactly as Qwen3's own chat template does (its tokenizer_config.json, rendered by
/// @huggingface/jinja as transformers renders it): the tools block in the system turn, with and without a system
/// message; assistant turns with tool calls, with and without text, one or several; tool results alone and grouped;
/// thinking on and off. Llama 3.1 and Mistral V3 (Nemo) render tools, calls and results as their own templates do, and
/// a Llama 3.1 conversation encoded turn by turn is the whole conversation's prompt. Formats without tool support refuse
/// them by name.
/// </summary>
[Trait("Kind", "unit")]
public class ChatToolTemplateTests
{
    private static readonly JsonNode[] Tools =
    [
        JsonNode.Parse("""{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city, \"now\" or é.", "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}}, "required": ["city"]}}}""")!,
        JsonNode.Parse("""{"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}""")!,
    ];

    private static (string Role, string Content, (string Name, string Arguments)[]? Calls)[][] Conversations() =>
    [
        [("system", "You are terse.", null), ("user", "Weather in Paris?", null)],
        [("user", "Weather in Paris?", null)],
        [("user", "Weather in Paris and Rome?", null), ("assistant", "", [("get_weather", """{"city": "Paris"}"""), ("get_weather", """{"city":"Rome","days":2}""")]),
            ("tool", "18 C, sunny", null), ("tool", "{\"temp\": 21}", null)],
        [("system", "S", null), ("user", "Add 2 and 3", null), ("assistant", "Let me add.", [("add", """{"a": 2, "b": 3}""")]), ("tool", "5", null),
            ("assistant", "It is 5.", null), ("user", "Thanks", null)],
        [("user", "Hi", null), ("assistant", "<think>\nhm\n</think>\n\nCalling.", [("add", "{}")]), ("tool", "0", null)],
    ];

    [Fact]
    public void ChatMlWithTools_RendersAsQwen3sOwnTemplate()
    {
        var tokenizer = ReferenceTokenizers.Qwen3;
        var format = ChatFormat.For(tokenizer);
        Assert.True(format.SupportsTools);
        string template = tokenizer.ChatTemplateSource ?? throw new InvalidOperationException("The Qwen3 tokenizer has no chat template.");
        var cases = new List<object>();
        var ours = new List<string>();
        foreach (var conversation in Conversations())
            foreach (bool withTools in new[] { true, false })
                foreach (bool? thinking in new bool?[] { null, false })
                {
                    var messages = conversation.Select(m => m.Calls is null
                        ? (object)new { role = m.Role, content = m.Content }
                        : new { role = m.Role, content = m.Content, tool_calls = m.Calls.Select(c => new { type = "function", function = new { name = c.Name, arguments = c.Arguments } }).ToArray() }).ToArray();
                    cases.Add(new { messages, tools = withTools ? Tools : null, add_generation_prompt = true, enable_thinking = thinking });
                    var chat = conversation.Select(m => new ChatMessage(m.Role, m.Content) { ToolCalls = m.Calls?.Select(c => new ChatToolCall(c.Name, c.Arguments)).ToArray() }).ToArray();
                    var tools = withTools ? Tools.Select(t => TemplateJson.Write(JsonDocument.Parse(t.ToJsonString()).RootElement)).ToArray() : null;
                    ours.Add(format.Render(chat, enableThinking: thinking ?? true, tools: tools));
                }
        var reference = Render(template, cases);
        Assert.Equal(ours.Count, reference.Count);
        for (int i = 0; i < ours.Count; i++)
        {
            Assert.True(reference[i] is JsonValue, $"case {i}: the template failed: {reference[i]}");
            Assert.Equal((string)reference[i]!, ours[i]);
        }
    }

    [Fact]
    public void FormatsWithoutTools_RefuseThemByName()
    {
        var llama3 = new ChatFormat(ChatFormatKind.Llama3);
        Assert.False(llama3.SupportsTools);
        Assert.False(new ChatFormat(ChatFormatKind.Mistral).SupportsTools);
        var e = Assert.Throws<ArgumentException>(() => llama3.Render([new ChatMessage("user", "hi")], tools: ["{}"]));
        Assert.Contains("ChatML", e.Message);
        Assert.Contains("Llama3", e.Message);
        Assert.Throws<ArgumentException>(() => llama3.Render([new ChatMessage("user", "hi"), new ChatMessage("tool", "5")]));
    }

    /// <summary>A conversation as the test writes it: role, content, calls (name, arguments JSON, id) and a tool result's call id.</summary>
    private sealed record Turn(string Role, string Content, (string Name, string Arguments, string Id)[]? Calls = null, string? CallId = null);

    /// <summary>
    /// Renders each conversation with and without the tools, by the reference template (@huggingface/jinja, arguments
    /// handed over as objects, as servers hand them to templates) and by <paramref name="format"/>, and compares.
    /// </summary>
    private static void AssertRendersAsTemplate(ChatFormat format, string template, string bos, string eos, IEnumerable<Turn[]> conversations)
    {
        var cases = new List<object>();
        var ours = new List<string>();
        foreach (var conversation in conversations)
            foreach (bool withTools in new[] { true, false })
            {
                var messages = conversation.Select(m => m.Calls is not null
                    ? (object)new { role = m.Role, content = m.Content, tool_calls = m.Calls.Select(c => new { id = c.Id, type = "function", function = new { name = c.Name, arguments = JsonNode.Parse(c.Arguments) } }).ToArray() }
                    : m.CallId is not null ? new { role = m.Role, content = m.Content, tool_call_id = m.CallId }
                    : new { role = m.Role, content = m.Content }).ToArray();
                cases.Add(new { messages, tools = withTools ? Tools : null, add_generation_prompt = true, bos_token = bos, eos_token = eos });
                var chat = conversation.Select(m => new ChatMessage(m.Role, m.Content)
                {
                    ToolCalls = m.Calls?.Select(c => new ChatToolCall(c.Name, c.Arguments, c.Id)).ToArray(), ToolCallId = m.CallId,
                }).ToArray();
                var tools = withTools ? Tools.Select(t => TemplateJson.Write(JsonDocument.Parse(t.ToJsonString()).RootElement)).ToArray() : null;
                ours.Add(format.Render(chat, tools: tools));
            }
        var reference = Render(template, cases);
        Assert.Equal(ours.Count, reference.Count);
        for (int i = 0; i < ours.Count; i++)
        {
            Assert.True(reference[i] is JsonValue, $"case {i}: the template failed: {reference[i]}");
            Assert.Equal((string)reference[i]!, ours[i]);
        }
    }

    private static string TemplateFile(string name) => File.ReadAllText(Path.Combine(ReferenceTokenizers.ReferenceFolder, "chat-templates", name));

    [Fact]
    public void Llama31WithTools_RendersAsItsOwnTemplate()
    {
        string template = TemplateFile("llama-3.1-instruct.jinja");
        var format = ChatFormat.Detect(ReferenceTokenizers.Llama3.TokenToId("<|start_header_id|>") is not null ? _ => true : _ => false, template);
        Assert.Equal(ChatFormatKind.Llama31, format.Kind);
        Assert.True(format.SupportsTools);
        Turn[][] conversations =
        [
            [new("system", "  You are terse. "), new("user", "Weather in Paris?\n")],
            [new("user", "Weather in Paris?")],
            [new("user", "Weather in Paris?"), new("assistant", "", [("get_weather", """{"city": "Paris", "days": 2}""", "call_1")]),
                new("tool", "18 C, \"sunny\"\n", CallId: "call_1")],
            [new("system", "S"), new("user", "Add 2 and 3"), new("assistant", "Let me add.", [("add", """{"a": 2, "b": 3}""", "call_2")]), new("tool", "5", CallId: "call_2"),
                new("assistant", " It is 5. "), new("user", "Thanks")],
            [new("user", "Hi"), new("assistant", "", [("add", "{}", "c")]), new("tool", "{\"sum\": 0}", CallId: "c")],
        ];
        AssertRendersAsTemplate(format, template, "<|begin_of_text|>", "<|eot_id|>", conversations);
    }

    [Fact]
    public void MistralV3WithTools_RendersAsNemosTemplate()
    {
        string template = TemplateFile("mistral-nemo-instruct-2407.jinja");
        var format = ChatFormat.Detect(_ => false, template);
        Assert.Equal(ChatFormatKind.MistralV3, format.Kind);
        Turn[][] conversations =
        [
            [new("system", "You are terse."), new("user", "Weather in Paris?")],
            [new("user", "Weather in Paris and Rome?"), new("assistant", "", [("get_weather", """{"city": "Paris"}""", "abcDEF123"), ("get_weather", """{"city":"Rome","days":2}""", "xyz987QRS")]),
                new("tool", "18 C, sunny", CallId: "abcDEF123"), new("tool", "{\"temp\": 21}", CallId: "xyz987QRS")],
            [new("system", "S"), new("user", "Add 2 and 3"), new("assistant", "", [("add", """{"a": 2, "b": 3}""", "A1b2C3d4E")]), new("tool", "5", CallId: "A1b2C3d4E"),
                new("assistant", "It is 5."), new("user", "Thanks")],
        ];
        AssertRendersAsTemplate(format, template, "<s>", "</s>", conversations);
    }

    [Fact]
    public void Llama31_ContinuingTurns_RenderWhatTheWholeConversationRenders()
    {
        // The session encodes only each new turn (nothing committed is re-encoded): the pieces must add up to the whole.
        var format = new ChatFormat(ChatFormatKind.Llama31);
        var tools = Tools.Select(t => TemplateJson.Write(JsonDocument.Parse(t.ToJsonString()).RootElement)).ToArray();
        const string call = """{"name": "add", "parameters": {"a": 2, "b": 3}}""";
        var whole = format.Render([new ChatMessage("system", "S"), new ChatMessage("user", "Add 2 and 3"),
            new ChatMessage("assistant", "") { ToolCalls = [new ChatToolCall("add", """{"a": 2, "b": 3}""")] }, new ChatMessage("tool", "5"),
            new ChatMessage("assistant", "It is 5."), new ChatMessage("user", "Thanks")], tools: tools);
        string pieces = format.Render([new ChatMessage("system", "S"), new ChatMessage("user", "Add 2 and 3")], tools: tools)
            + call + format.EndOfTurnToken
            + format.Render([new ChatMessage("tool", "5")], continuing: true)
            + "It is 5." + format.EndOfTurnToken
            + format.Render([new ChatMessage("user", "Thanks")], continuing: true);
        Assert.Equal(whole, pieces);
    }

    [Fact]
    public void Llama31_RefusesTwoCallsInOneTurn_AndMistralIdsMapToNineCharacters()
    {
        var llama = new ChatFormat(ChatFormatKind.Llama31);
        var e = Assert.Throws<ArgumentException>(() => llama.Render([new ChatMessage("user", "hi"),
            new ChatMessage("assistant", "") { ToolCalls = [new ChatToolCall("a", "{}"), new ChatToolCall("b", "{}")] }]));
        Assert.Contains("one function call per assistant turn", e.Message);
        // OpenAI ids ("call_…") become the 9 letters and digits Mistral's template demands, the same for a call and its result.
        var mistral = new ChatFormat(ChatFormatKind.MistralV3);
        string text = mistral.Render([new ChatMessage("user", "hi"),
            new ChatMessage("assistant", "") { ToolCalls = [new ChatToolCall("a", "{}", "call_0123456789abcdef01234567")] },
            new ChatMessage("tool", "1") { ToolCallId = "call_0123456789abcdef01234567" }]);
        string id = ToolCallSyntax.MistralV3.CallId("call_0123456789abcdef01234567");
        Assert.Matches("^[A-Za-z0-9]{9}$", id);
        Assert.Contains($"\"id\": \"{id}\"", text);
        Assert.Contains($"\"call_id\": \"{id}\"", text);
        Assert.Equal("abcDEF123", ToolCallSyntax.MistralV3.CallId("abcDEF123"));
        Assert.Matches("^[A-Za-z0-9]{9}$", ToolCallSyntax.MistralV3.NewCallId());
        Assert.StartsWith("call_", ToolCallSyntax.Llama31.NewCallId());
    }

    [Fact]
    public void Llama3And31_AreToldApart_ByTemplateAndByVocabulary()
    {
        var llama3 = ReferenceTokenizers.Llama3;
        Assert.Equal(ChatFormatKind.Llama3, ChatFormat.For(llama3).Kind);      // its template has no ipython turns, its vocabulary no <|python_tag|>
        Assert.Equal(ChatFormatKind.Llama31, ChatFormat.Detect(t => t is "<|start_header_id|>" or "<|python_tag|>", null).Kind);
        Assert.Equal(ChatFormatKind.Llama3, ChatFormat.Detect(t => t is "<|start_header_id|>", null).Kind);
    }

    private static JsonArray Render(string template, List<object> cases)
    {
        var start = new ProcessStartInfo("node", "render-template.js")
        {
            WorkingDirectory = ReferenceTokenizers.ReferenceFolder, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        process.StandardInput.Write(JsonSerializer.Serialize(new { template, cases }));
        process.StandardInput.Close();
        string output = process.StandardOutput.ReadToEnd();
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"node exited with {process.ExitCode}: {error}");
        return JsonNode.Parse(output)!.AsArray();
    }
}
