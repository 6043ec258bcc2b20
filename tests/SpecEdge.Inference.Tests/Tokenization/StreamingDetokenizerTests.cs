using System.Text;
using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Tokenization;

[Trait("Kind", "unit")]
public class StreamingDetokenizerTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (string model in new[] { "qwen3", "llama3" })
        {
            data.Add(model, "👨‍👩‍👧‍👦 family 👍🏽👍🏿 and 🏳️‍🌈 flags 🇩🇪🇯🇵");
            data.Add(model, "你好，世界！今天天气很好。日本語のテキスト 한국어 龘靐齉 𠀀𪚥");
            data.Add(model, "Mixed: English, 中文, русский, العربية, हिन्दी, 😀 and 𝐀𝐁𝐂 𝟏𝟐𝟑 𠀀𠀁.");
            data.Add(model, "<|im_start|>user\nhi 🍕<|im_end|>");
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Push_ConcatenatedChunksEqualDecodeAndNoChunkHasReplacementChar(string model, string text)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        int[] ids = tokenizer.Encode(text);
        // The test is only meaningful if some token ends inside a character.
        Assert.Contains(ids, id => !IsCompleteUtf8(tokenizer.TokenBytes(id)));

        var streamer = new StreamingDetokenizer(tokenizer);
        var all = new StringBuilder();
        foreach (int id in ids)
        {
            string chunk = streamer.Push(id);
            Assert.DoesNotContain('\uFFFD', chunk);
            all.Append(chunk);
        }
        all.Append(streamer.Flush());
        Assert.Equal(tokenizer.Decode(ids), all.ToString());
        Assert.Equal(text, all.ToString());
    }

    [Fact]
    public void Push_HoldsBackHalfCharacterUntilCompleted()
    {
        var tokenizer = ReferenceTokenizers.Qwen3;
        var streamer = new StreamingDetokenizer(tokenizer);
        // 😀 is F0 9F 98 80; find ids for its first byte(s) and the rest by byte-level spelling.
        int? head = tokenizer.TokenToId("ðŁĺ");  // F0 9F 98
        int? tail = tokenizer.TokenToId("Ģ");    // 80
        Assert.NotNull(head);
        Assert.NotNull(tail);
        Assert.Equal("", streamer.Push(head!.Value));
        Assert.Equal("😀", streamer.Push(tail!.Value));
        Assert.Equal("", streamer.Flush());
    }

    [Fact]
    public void Flush_EmitsUnfinishedCharacterAsReplacement()
    {
        var tokenizer = ReferenceTokenizers.Qwen3;
        var streamer = new StreamingDetokenizer(tokenizer);
        Assert.Equal("a", streamer.Push(tokenizer.TokenToId("a")!.Value));
        Assert.Equal("", streamer.Push(tokenizer.TokenToId("ðŁĺ")!.Value));
        Assert.Equal("\uFFFD", streamer.Flush());
    }

    [Fact]
    public void Push_SkipSpecialTokens_DropsThem()
    {
        var tokenizer = ReferenceTokenizers.Qwen3;
        var streamer = new StreamingDetokenizer(tokenizer, skipSpecialTokens: true);
        string text = streamer.Push(tokenizer.Encode("<|im_start|>assistant\nok<|im_end|>")) + streamer.Flush();
        Assert.Equal("assistant\nok", text);
    }

    private static bool IsCompleteUtf8(ReadOnlySpan<byte> bytes)
    {
        try
        {
            new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            return false;
        }
    }
}
