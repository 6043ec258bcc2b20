using System.Text;
using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Tokenization;

/// <summary>
/// HfTokenizer against ids produced by Hugging Face's tokenizer on the same files (reference-ids.json): byte-level
/// (Qwen3, Llama 3) and SentencePiece-style with byte fallback (Llama 2 as shipped, and as Metaspace variants).
/// </summary>
[Trait("Kind", "unit")]
public class HfTokenizerReferenceTests
{
    public static TheoryData<string> Models => new(ReferenceTokenizers.AllModels);

    [Theory]
    [MemberData(nameof(Models))]
    public void Encode_MatchesHuggingFaceIdsForEveryReferenceString(string model)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        var strings = ReferenceTokenizers.Strings;
        var expected = ReferenceTokenizers.Ids(model, withSpecialTokens: false);
        Assert.Equal(strings.Count, expected.Count);

        var failures = new StringBuilder();
        for (int i = 0; i < strings.Count; i++)
        {
            var actual = tokenizer.Encode(strings[i]);
            if (!actual.SequenceEqual(expected[i]))
            {
                failures.AppendLine($"#{i} {Escape(strings[i])}\n  expected [{string.Join(",", expected[i])}]\n  actual   [{string.Join(",", actual)}]");
            }
        }
        Assert.True(failures.Length == 0, $"{model}: ids differ from Hugging Face:\n{failures}");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void EncodeWithSpecialTokens_MatchesHuggingFaceIds(string model)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        var strings = ReferenceTokenizers.Strings;
        var expected = ReferenceTokenizers.Ids(model, withSpecialTokens: true);
        for (int i = 0; i < strings.Count; i++)
        {
            Assert.True(expected[i].SequenceEqual(tokenizer.Encode(strings[i], addSpecialTokens: true)),
                $"{model} #{i} {Escape(strings[i])}");
        }
    }

    [Fact]
    public void InnerBpeTokenizer_OnItsOwn_MatchesHuggingFaceForQwen3()
    {
        // Qwen3 has no ignore_merges, so the Microsoft.ML.Tokenizers model alone must already be exact:
        // this pins the "added tokens in both the options and the pre-tokenizer" setup.
        var bpe = ReferenceTokenizers.Qwen3.Bpe;
        var strings = ReferenceTokenizers.Strings;
        var expected = ReferenceTokenizers.Ids("qwen3", withSpecialTokens: false);
        for (int i = 0; i < strings.Count; i++)
        {
            Assert.True(expected[i].SequenceEqual(bpe.EncodeToIds(strings[i])), $"#{i} {Escape(strings[i])}");
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Decode_MatchesHuggingFaceDecode(string model)
    {
        var tokenizer = ReferenceTokenizers.Get(model);
        var ids = ReferenceTokenizers.Ids(model, withSpecialTokens: false);
        var decoded = ReferenceTokenizers.Decoded(model);
        for (int i = 0; i < ids.Count; i++)
        {
            Assert.Equal(decoded[i], tokenizer.Decode(ids[i]));
        }
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void VocabSize_MatchesHuggingFaceIncludingAddedTokens(string model)
    {
        Assert.Equal(ReferenceTokenizers.ReferenceVocabSize(model), ReferenceTokenizers.Get(model).VocabSize);
    }

    internal static string Escape(string s) =>
        "\"" + s.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t") + "\"";
}
