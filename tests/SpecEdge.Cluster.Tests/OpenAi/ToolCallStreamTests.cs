using System.Text;
using System.Text.Json;
using SpecEdge.OpenAi;
using Xunit;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// A reply that may call tools, streamed: whatever pieces it arrives in, the deltas put together are what the whole
/// reply gives (<see cref="ToolCallText.Split"/>), each call's first delta names it and the rest only extend its
/// arguments, and a call's arguments go out as they are written, not at its end.
/// </summary>
[Trait("Kind", "unit")]
public class ToolCallStreamTests
{
    public static IEnumerable<object[]> Replies() =>
    [
        ["Let me look that up.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\", \"unit\": \"celsius\"}}\n</tool_call>"],
        ["<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": [2, {\"c\": \"}\\\"]\"}]}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}}\n</tool_call>"],
        ["<tool_call>\n{\"arguments\": {\"x\": true}, \"name\": \"late_name\"}\n</tool_call>"],
        ["<tool_call>\n{\"name\": \"no_arguments\"}\n</tool_call>"],
        ["<tool_call>\n{\"name\": \"as_text\", \"arguments\": \"{\\\"q\\\": 1}\"}\n</tool_call>"],
        ["<tool_call>\n{\"name\":\"tight\",\"arguments\":{\"n\":-1.5e3,\"ok\":null}}\n</tool_call>"],
        ["A\n<tool_call>\n{\"name\": \"f\", \"arguments\": {\"s\": \"<tool_call>\"}}\n</tool_call>\nB"],
        ["No call here, just text with a < sign and <tool without the rest."],
        ["  Leading and trailing space, no calls.  \n"],
    ];

    [Theory]
    [MemberData(nameof(Replies))]
    public void StreamedInAnyPieces_TheDeltasAddUpToTheWholeReply(string reply)
    {
        var (content, calls) = ToolCallText.Split(reply);
        var random = new Random(reply.Length);
        foreach (int maxPiece in new[] { 1, 2, 3, 7, 16, reply.Length })
        {
            var (streamedContent, streamedCalls, _) = Stream(reply, random, maxPiece);
            if (calls.Length == 0) Assert.Equal(content, streamedContent);
            else Assert.Equal((content ?? "").Trim(), streamedContent.Trim());
            Assert.Equal(calls.Length, streamedCalls.Count);
            for (int i = 0; i < calls.Length; i++)
            {
                Assert.Equal(calls[i].Function.Name, streamedCalls[i].Name);
                Assert.Equal(calls[i].Function.Arguments, streamedCalls[i].Arguments.ToString());
                Assert.StartsWith("call_", streamedCalls[i].Id);
            }
        }
    }

    [Fact]
    public void ACallsArguments_GoOutAsTheyAreWritten()
    {
        const string reply = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\", \"days\": 3}}\n</tool_call>";
        var (_, calls, deltas) = Stream(reply, new Random(1), maxPiece: 4);
        Assert.Single(calls);
        // The name in the first delta, then the arguments over several deltas, none of them after the object closed.
        var callDeltas = deltas.Where(d => d.ToolCalls is not null).Select(d => d.ToolCalls!.Single()).ToList();
        Assert.Equal("get_weather", callDeltas[0].Function.Name);
        Assert.True(callDeltas.Count > 4, $"{callDeltas.Count} deltas");
        Assert.All(callDeltas.Skip(1), d => Assert.Null(d.Function.Name));
        Assert.All(callDeltas.Skip(1), d => Assert.Null(d.Id));
    }

    [Theory]
    [InlineData("<tool_call>\n{\"name\": \"f\", \"other\": 1}\n</tool_call>")]   // a key a call does not have: Split reads it whole
    [InlineData("<tool_call>\nnot json\n</tool_call> after")]
    [InlineData("Unfinished: <tool_call>\n{\"nam")]
    public void ABlockThatIsNoCallWeCanFollow_IsReadWholeOrLeftAsText(string reply)
    {
        var (content, calls) = ToolCallText.Split(reply);
        var (streamedContent, streamedCalls, _) = Stream(reply, new Random(3), maxPiece: 3);
        Assert.Equal(calls.Length, streamedCalls.Count);
        if (calls.Length == 0) Assert.Equal(content, streamedContent);
        for (int i = 0; i < calls.Length; i++)
        {
            Assert.Equal(calls[i].Function.Name, streamedCalls[i].Name);
            Assert.Equal(calls[i].Function.Arguments, streamedCalls[i].Arguments.ToString());
        }
    }

    [Fact]
    public void AReplyCutOffInsideACall_KeepsTheCallItBegan()
    {
        var (_, calls, _) = Stream("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Ro", new Random(2), maxPiece: 5);
        var call = Assert.Single(calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("{\"city\": \"Ro", call.Arguments.ToString());
    }

    private sealed record StreamedCall(string Id, string Name, StringBuilder Arguments);

    /// <summary>Feeds <paramref name="reply"/> in random pieces of at most <paramref name="maxPiece"/> chars and puts the deltas together as a client does.</summary>
    private static (string Content, List<StreamedCall> Calls, List<ChunkDelta> Deltas) Stream(string reply, Random random, int maxPiece)
    {
        var stream = new ToolCallStream();
        var deltas = new List<ChunkDelta>();
        for (int at = 0; at < reply.Length;)
        {
            int n = Math.Min(reply.Length - at, random.Next(1, maxPiece + 1));
            deltas.AddRange(stream.Push(reply.Substring(at, n), final: at + n == reply.Length));
            at += n;
        }
        var content = new StringBuilder();
        var calls = new List<StreamedCall>();
        foreach (var delta in deltas)
        {
            content.Append(delta.Content);
            foreach (var call in delta.ToolCalls ?? [])
            {
                // The shape on the wire must be OpenAI's: index always; id, type and name only in a call's first delta.
                var json = JsonSerializer.SerializeToNode(call, OpenAiJson.Options)!;
                Assert.NotNull(json["index"]);
                if (call.Index == calls.Count)
                {
                    Assert.Equal("function", (string?)json["type"]);
                    calls.Add(new StreamedCall(call.Id!, call.Function.Name!, new StringBuilder(call.Function.Arguments)));
                }
                else
                {
                    Assert.Null(json["id"]);
                    calls[call.Index].Arguments.Append(call.Function.Arguments);
                }
            }
        }
        Assert.Equal(calls.Count > 0, stream.AnyCall);
        return (content.ToString(), calls, deltas);
    }
}
