using SpecEdge.Inference.Model;
using SpecEdge.Inference.Training;
using Xunit;

namespace SpecEdge.Inference.Tests.Training;

/// <summary>The committed demo pair (models/demo) loads, shares one tokenizer, and predicts English far better than chance.</summary>
[Trait("Kind", "unit")]
public class DemoPairFilesTests
{
    private static string DemoDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "SpecEdge.Orleans.sln"))) return Path.Combine(dir.FullName, "models", "demo");
        throw new InvalidOperationException($"No SpecEdge.Orleans.sln above {AppContext.BaseDirectory}.");
    }

    [Theory]
    [InlineData("target")]
    [InlineData("draft")]
    public void DemoModel_LoadsInBf16_AndBeatsChanceOnEnglish(string name)
    {
        string dir = Path.Combine(DemoDirectory(), name);
        var tokenizer = ByteLevelBpeTokenizer.Load(Path.Combine(dir, "tokenizer.json"));
        Assert.Equal(File.ReadAllText(Path.Combine(DemoDirectory(), "target", "tokenizer.json")), File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
        using var model = CausalLm.Load(dir);
        Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, model.DType);
        Assert.Equal(tokenizer.VocabSize, model.Config.VocabSize);
        Assert.Equal(new[] { tokenizer.SpecialTokens[DemoPairRecipe.EndOfText] }, model.Generation.EosTokenIds);

        var ids = tokenizer.Encode(TrainingSample.Text);
        double bitsPerByte = LanguageModelEvaluator.BitsPerByte(model, ids, tokenizer, context: 128, batchSize: 4);
        double uniform = Math.Log2(tokenizer.VocabSize) * ids.Length / System.Text.Encoding.UTF8.GetByteCount(TrainingSample.Text);
        Assert.True(bitsPerByte < 0.7 * uniform, $"{name}: {bitsPerByte:F3} bits/byte; a uniform guess gives {uniform:F3}");
    }
}
