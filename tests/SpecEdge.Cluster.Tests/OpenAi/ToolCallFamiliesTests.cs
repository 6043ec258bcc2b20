using System.Text.Json;
using System.Text.Json.Nodes;
using SpecEdge.Inference.Tokenization;
using SpecEdge.OpenAi;
using Xunit;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// Llama 3.1 and Mistral V3 replies are read back as the calls their templates render: a call rendered into history
/// (the template's own form) and split again gives the same function and arguments, whether or not the reply's text
/// shows the special token in front; what is not wholly calls (text, a JSON value that is no call, a cut-off call) stays
/// content; ids take each family's form.
/// </summary>
[Trait("Kind", "unit")]
public class ToolCallFamiliesTests
{
    private static readonly ChatToolCall[] Calls =
    [
        new("get_weather", """{"city": "Paris", "days": 2}""", "call_a"),
        new("add", """{"a": 1.5, "b": [2, {"c": "}\"]"}]}""", "call_b"),
    ];

    /// <summary>The assistant's part of a rendered conversation: what the model writes for <paramref name="calls"/>.</summary>
    private static string Rendered(ChatFormatKind kind, ChatToolCall[] calls)
    {
        var format = new ChatFormat(kind);
        string text = format.Render([new ChatMessage("user", "hi"), new ChatMessage("assistant", "") { ToolCalls = calls }], addGenerationPrompt: false);
        return kind == ChatFormatKind.Llama31
            ? text[(text.LastIndexOf("<|end_header_id|>\n\n", StringComparison.Ordinal) + "<|end_header_id|>\n\n".Length)..text.LastIndexOf("<|eot_id|>", StringComparison.Ordinal)]
            : text[text.IndexOf(ToolCallSyntax.MistralMarker, StringComparison.Ordinal)..text.LastIndexOf("</s>", StringComparison.Ordinal)];
    }

    public static IEnumerable<object[]> Cases() =>
    [
        [ChatFormatKind.Llama31, 1, ""],
        [ChatFormatKind.Llama31, 1, ToolCallSyntax.PythonTag],
        [ChatFormatKind.MistralV3, 2, ""],
        [ChatFormatKind.MistralV3, 1, ""],
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ACallRenderedIntoHistory_SplitsBackIntoTheSameCall(ChatFormatKind kind, int count, string lead)
    {
        var syntax = ToolCallSyntax.For(kind)!;
        var calls = Calls.Take(count).ToArray();
        string written = lead + Rendered(kind, calls);
        foreach (string text in new[] { written, written.Replace(ToolCallSyntax.MistralMarker, "") })   // the control token shown, or skipped
        {
            var (content, parsed) = ToolCallText.Split(text, syntax);
            Assert.Null(content);
            Assert.Equal(calls.Select(c => c.Name), parsed.Select(c => c.Function.Name));
            for (int i = 0; i < calls.Length; i++)
            {
                Assert.True(JsonNode.DeepEquals(JsonNode.Parse(calls[i].Arguments), JsonNode.Parse(parsed[i].Function.Arguments)), parsed[i].Function.Arguments);
                Assert.Equal(i, parsed[i].Index);
                Assert.Matches(kind == ChatFormatKind.MistralV3 ? "^[A-Za-z0-9]{9}$" : "^call_", parsed[i].Id);
            }
        }
    }

    [Theory]
    [InlineData(ChatFormatKind.Llama31, "The weather is fine.")]
    [InlineData(ChatFormatKind.Llama31, """{"city": "Paris"}""")]
    [InlineData(ChatFormatKind.Llama31, """{"name": "add", "parameters": {"a": 1}""")]
    [InlineData(ChatFormatKind.Llama31, """Sure: {"name": "add", "parameters": {}}""")]
    [InlineData(ChatFormatKind.MistralV3, "[1, 2]")]
    [InlineData(ChatFormatKind.MistralV3, """[TOOL_CALLS][{"name": "add", "argum""")]
    [InlineData(ChatFormatKind.MistralV3, """[TOOL_CALLS][{"name": "add", "arguments": {}}, 3]""")]
    [InlineData(ChatFormatKind.MistralV3, "[TOOL_CALLS][]")]
    public void WhatIsNotWhollyCalls_StaysContent(ChatFormatKind kind, string text)
    {
        var (content, calls) = ToolCallText.Split(text, ToolCallSyntax.For(kind)!);
        Assert.Empty(calls);
        Assert.Equal(text, content);
    }

    public static IEnumerable<object[]> StreamedReplies() =>
    [
        [ChatFormatKind.Llama31, "  {\"name\": \"add\", \"parameters\": {\"a\": 1}}"],
        [ChatFormatKind.Llama31, "\nThe answer is {not a call}."],
        [ChatFormatKind.Llama31, "{\"name\": \"add\", \"parameters\": {\"a\": 1"],                       // cut off: content
        [ChatFormatKind.MistralV3, "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}, {\"name\": \"add\", \"arguments\": {}}]"],
        [ChatFormatKind.MistralV3, "[{\"name\": \"add\", \"arguments\": {\"b\": [1, 2]}}]"],
        [ChatFormatKind.MistralV3, "Plain text, then [brackets]."],
    ];

    /// <summary>
    /// Streamed in pieces of any size, a Llama 3.1 or Mistral reply gives, put together, what the whole reply gives:
    /// its calls (names and arguments; ids are new per reading) or its content; text that cannot be calls goes out before
    /// the reply ends.
    /// </summary>
    [Theory]
    [MemberData(nameof(StreamedReplies))]
    public void AStreamedReply_AddsUpToTheWholeReply(ChatFormatKind kind, string reply)
    {
        var syntax = ToolCallSyntax.For(kind)!;
        var (wholeContent, wholeCalls) = ToolCallText.Split(reply, syntax);
        foreach (int size in new[] { 1, 2, 3, 7, reply.Length })
        {
            var stream = new WholeReplyToolStream(syntax);
            var deltas = new List<ChunkDelta>();
            bool earlyContent = false;
            for (int at = 0; at < reply.Length; at += size)
            {
                bool final = at + size >= reply.Length;
                var pushed = stream.Push(reply.Substring(at, Math.Min(size, reply.Length - at)), final);
                if (!final && pushed.Any(d => d.Content is { Length: > 0 })) earlyContent = true;
                deltas.AddRange(pushed);
            }
            var calls = deltas.SelectMany(d => d.ToolCalls ?? []).ToArray();
            Assert.Equal(wholeCalls.Select(c => (c.Function.Name, c.Function.Arguments)), calls.Select(c => (c.Function.Name!, c.Function.Arguments)));
            Assert.Equal(wholeCalls.Length > 0, stream.AnyCall);
            string content = string.Concat(deltas.Select(d => d.Content));
            Assert.Equal(wholeCalls.Length > 0 ? "" : reply, content);
            // Text that does not open with a call streams before the end (given pieces smaller than the reply).
            bool opensACall = reply.TrimStart()[0] == (kind == ChatFormatKind.MistralV3 ? '[' : '{');
            if (size < reply.Length / 2) Assert.Equal(!opensACall, earlyContent);
        }
    }

    [Fact]
    public void Llama31_AcceptsArgumentsUnderEitherKey()
    {
        var (_, calls) = ToolCallText.Split("""{"name": "add", "arguments": {"a": 1}}""", ToolCallSyntax.Llama31);
        Assert.Equal("""{"a": 1}""", Assert.Single(calls).Function.Arguments);
        (_, calls) = ToolCallText.Split("""{"name": "add"}""", ToolCallSyntax.Llama31);
        Assert.Equal("{}", Assert.Single(calls).Function.Arguments);
    }
}
