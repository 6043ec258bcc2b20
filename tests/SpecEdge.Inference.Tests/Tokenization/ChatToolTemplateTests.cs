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
/// thinking on and off. Formats without tool support refuse them by name.
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
        var e = Assert.Throws<ArgumentException>(() => llama3.Render([new ChatMessage("user", "hi")], tools: ["{}"]));
        Assert.Contains("ChatML", e.Message);
        Assert.Throws<ArgumentException>(() => llama3.Render([new ChatMessage("user", "hi"), new ChatMessage("tool", "5")]));
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
