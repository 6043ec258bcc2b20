using System.Text.Json.Nodes;
using SpecEdge.Inference.Training;
using Xunit;

namespace SpecEdge.Inference.Tests.Training;

[Trait("Kind", "unit")]
public class ByteLevelBpeTests
{
    private static readonly string[] Specials = { "<|endoftext|>", "<|im_start|>", "<|im_end|>" };

    [Fact]
    public void Pretokenizer_PiecesConcatenateToTheText()
    {
        const string text = "It's 1,234 dollars --  they'll say\n\n  \"no\"!  ";
        var pieces = Gpt2PreTokenizer.Split(text).ToList();
        Assert.Equal(text, string.Concat(pieces));
        Assert.Contains(" dollars", pieces);
        Assert.Contains("'ll", pieces);
    }

    [Fact]
    public void TrainedTokenizer_WrittenAsTokenizerJson_RoundTripsText()
    {
        var trained = ByteLevelBpeTrainer.Train(new[] { TrainingSample.Text }, vocabSize: 400, Specials);
        Assert.Equal(400, trained.VocabSize);
        Assert.Equal(new[] { 397, 398, 399 }, Specials.Select(s => trained.SpecialTokens[s]));

        string dir = Path.Combine(Path.GetTempPath(), "specedge-tests", $"bpe-{Guid.NewGuid():N}");
        TokenizerJsonWriter.Write(trained, dir, "<|endoftext|>", modelMaxLength: 256);
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer.json")))!;
        Assert.Equal(397, ((JsonObject)json["model"]!["vocab"]!).Count);
        Assert.Equal(400 - 256 - 3, ((JsonArray)json["model"]!["merges"]!).Count);
        Assert.Equal(Gpt2PreTokenizer.Pattern, json["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"]!.GetValue<string>());
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "tokenizer_config.json")))!;
        Assert.Equal("<|endoftext|>", config["eos_token"]!.GetValue<string>());

        // Reading the file back checks every vocab id against the merge order; then both must encode identically.
        var loaded = ByteLevelBpeTokenizer.Load(Path.Combine(dir, "tokenizer.json"));
        foreach (var text in new[]
        {
            TrainingSample.Text,
            "Unseen words: zygote, Quixotic; 42 naïve cafés — “quotes”.\n\n  indented\tand tabbed  ",
            "<|im_start|>user\nHello<|im_end|>\n<|endoftext|>",
        })
        {
            var ids = trained.Encode(text);
            Assert.Equal(ids, loaded.Encode(text));
            Assert.Equal(text, loaded.Decode(ids));
        }
        var sampleIds = trained.Encode(TrainingSample.Text);
        Assert.True(sampleIds.Length * 2 < TrainingSample.Text.Length,
            $"merges should compress the training text: {sampleIds.Length} tokens for {TrainingSample.Text.Length} chars");
        Assert.Equal(2, trained.Encode("<|im_start|>user<|im_end|>").Count(trained.IsSpecial));
    }
}
