using System.Text.Json.Nodes;
using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>
/// The SentencePiece-style path of HfTokenizer (Llama 2's tokenizer.json, byte fallback, '▁' for spaces) beyond the
/// id-for-id reference comparison: streaming, special tokens, byte tokens and the configurations it refuses.
/// </summary>
[Trait("Kind", "unit")]
public class SentencePieceTokenizerTests
{
    private static HfTokenizer Llama2 => ReferenceTokenizers.Llama2;

    [Fact]
    public void Load_WithoutTokenizerModel_ReadsTokenizerJsonAlone()
    {
        // The package ships no tokenizer.model: everything comes from tokenizer.json (+ tokenizer_config.json).
        Assert.False(File.Exists(Path.Combine(ReferenceTokenizers.ModelDirectory("llama2"), "tokenizer.model")));
        Assert.Equal(32000, Llama2.VocabSize);
        Assert.Equal(1, Llama2.BosTokenId);
        Assert.Equal([2], Llama2.EosTokenIds);
        Assert.Equal(1, Llama2.DecodeStripsLeadingSpaces);
    }

    [Theory]
    [InlineData("llama2")]
    [InlineData("llama2-metaspace-first")]
    [InlineData("llama2-metaspace-always-split")]
    public void StreamingDetokenizer_OverReferenceIds_EqualsDecodeOfAll(string model)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        var all = ReferenceTokenizers.Ids(model, withSpecialTokens: true);
        foreach (var ids in all)
        {
            var stream = new StreamingDetokenizer(tokenizer);
            string streamed = stream.Push(ids) + stream.Flush();
            Assert.Equal(tokenizer.Decode(ids), streamed);
        }
    }

    [Fact]
    public void ByteFallback_EmojiOutsideVocabulary_IsFourByteTokensThatDecodeBack()
    {
        int[] ids = Llama2.Encode("\U0001F9EC");
        string[] expectedBytes = ["<0xF0>", "<0x9F>", "<0xA7>", "<0xAC>"];
        Assert.Equal(expectedBytes.Select(b => Llama2.TokenToId(b)!.Value), ids.SkipWhile(id => id == Llama2.TokenToId("▁")));
        Assert.Equal("\U0001F9EC", Llama2.Decode(ids));
        // Cut in the middle of the character, the bytes that remain are invalid UTF-8: one U+FFFD per byte, as HF does.
        Assert.Equal("\uFFFD\uFFFD", Llama2.Decode(ids[^2..]));
    }

    [Fact]
    public void Decode_StripsOnlyOneLeadingSpace_AndSkipsSpecialTokensBeforeStripping()
    {
        int[] twoSpaces = Llama2.Encode("  x");
        Assert.Equal("  x", Llama2.Decode(twoSpaces));
        int[] withBos = Llama2.Encode("hello", addSpecialTokens: true);
        Assert.Equal(1, withBos[0]);
        Assert.Equal("<s> hello", Llama2.Decode(withBos));
        Assert.Equal("hello", Llama2.Decode(withBos, skipSpecialTokens: true));
    }

    [Fact]
    public void Encode_ContentSegment_KeepsSpecialTokenSpellingsAsText()
    {
        int[] asContent = Llama2.Encode("a</s>b", parseSpecialTokens: false);
        Assert.DoesNotContain(2, asContent);
        Assert.Equal("a</s>b", Llama2.Decode(asContent));
        Assert.Contains(2, Llama2.Encode("a</s>b"));
    }

    [Fact]
    public void Load_AddedTokenNormalized_ThrowsNamingIt()
    {
        string dir = CopyLlama2With(json => json["added_tokens"]![1]!["normalized"] = true);
        try
        {
            var error = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(dir));
            Assert.Contains("'<s>'", error.Message);
            Assert.Contains("normalized", error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_SentencePieceWithoutByteFallback_ThrowsNamingIt()
    {
        string dir = CopyLlama2With(json => json["model"]!["byte_fallback"] = false);
        try
        {
            var error = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(dir));
            Assert.Contains("byte_fallback", error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Load_UnknownDecoderStep_ThrowsNamingTheSequence()
    {
        string dir = CopyLlama2With(json => json["decoder"]!["decoders"]!.AsArray().RemoveAt(1));
        try
        {
            var error = Assert.Throws<NotSupportedException>(() => HfTokenizer.Load(dir));
            Assert.Contains("Sequence[Replace, Fuse, Strip]", error.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static string CopyLlama2With(Action<JsonObject> edit)
    {
        string source = ReferenceTokenizers.ModelDirectory("llama2");
        string dir = Path.Combine(Path.GetTempPath(), "sp-tokenizer-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(source, "tokenizer.json")))!.AsObject();
        edit(json);
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), json.ToJsonString());
        File.Copy(Path.Combine(source, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        return dir;
    }
}
