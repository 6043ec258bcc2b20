using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>
/// Mistral's chat templates, as real tokenizer_config.json files carry them (tests/tokenizer-reference/chat-templates),
/// against the prompts a Jinja engine renders from them (reference-ids.json, chatTemplates): same text, same ids
/// through the Llama 2 SentencePiece tokenizer, and a refusal wherever the template raises.
/// </summary>
[Trait("Kind", "unit")]
public class MistralChatFormatTests
{
    public static TheoryData<string, ChatFormatKind> Templates => new()
    {
        { "mistral-7b-instruct-v0.1", ChatFormatKind.Mistral },
        { "mistral-nemo-instruct-2407", ChatFormatKind.MistralV3 },
    };

    [Theory]
    [MemberData(nameof(Templates))]
    public void Render_EqualsJinjaRenderingOfTheRealTemplate(string template, ChatFormatKind kind)
    {
        var (tokenizer, cases) = Load(template);
        var format = ChatFormat.For(tokenizer);
        Assert.Equal(kind, format.Kind);
        int rendered = 0;
        foreach (var c in cases)
        {
            var messages = c.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatMessage(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)).ToList();
            if (c.TryGetProperty("error", out _))
            {
                Assert.Throws<ArgumentException>(() => format.Render(messages));
                continue;
            }
            string expected = c.GetProperty("text").GetString()!;
            Assert.Equal(expected, format.Render(messages));
            int[] expectedIds = c.GetProperty("llama2Ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.Equal(expectedIds, tokenizer.Encode(format.RenderSegments(messages)));
            rendered++;
        }
        Assert.True(rendered >= 4, $"only {rendered} conversations rendered");
    }

    [Fact]
    public void Llama2Template_WithSys_IsStillLlama2()
    {
        const string llama2Template = "{% if messages[0]['role'] == 'system' %}{{ '<<SYS>>\\n' }}{% endif %}{{ '[INST] ' }}";
        Assert.Equal(ChatFormatKind.Llama2, ChatFormat.Detect(_ => false, llama2Template).Kind);
    }

    [Fact]
    public void Detect_InstControlTokenWithoutTemplate_IsMistralV3()
    {
        Assert.Equal(ChatFormatKind.MistralV3, ChatFormat.Detect(t => t == "[INST]", chatTemplate: null).Kind);
    }

    /// <summary>The Llama 2 tokenizer with the template put into its tokenizer_config.json, as a Mistral model directory has it.</summary>
    private static (HfTokenizer Tokenizer, List<JsonElement> Cases) Load(string template)
    {
        string folder = ReferenceTokenizers.ReferenceFolder;
        using var reference = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(folder, "reference-ids.json")));
        var entry = reference.RootElement.GetProperty("chatTemplates").GetProperty(template);
        string source = File.ReadAllText(Path.Combine(folder, entry.GetProperty("file").GetString()!));
        var cases = entry.GetProperty("rendered").EnumerateArray().Select(e => e.Clone()).ToList();

        string model = ReferenceTokenizers.ModelDirectory("llama2");
        string dir = Path.Combine(Path.GetTempPath(), "mistral-template-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            File.Copy(Path.Combine(model, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
            var config = JsonNode.Parse(File.ReadAllText(Path.Combine(model, "tokenizer_config.json")))!.AsObject();
            config["chat_template"] = source;
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config.ToJsonString());
            return (HfTokenizer.Load(dir), cases);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
