using SpecEdge.Inference.Model;
using SpecEdge.Inference.Training;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Training;

[Collection(TrainingCollection.Name)]
[Trait("Kind", "unit")]
public class LanguageModelTrainerTests
{
    [Fact]
    public void LearningRate_WarmsUpThenDecaysToTheFloor()
    {
        var o = new TrainingOptions { Duration = TimeSpan.FromMinutes(1), PeakLearningRate = 1e-3, WarmupSteps = 10, MinLearningRateFraction = 0.1 };
        Assert.Equal(1e-4, LanguageModelTrainer.LearningRate(o, 0, 0), 12);
        Assert.Equal(1e-3, LanguageModelTrainer.LearningRate(o, 9, 0), 12);
        Assert.Equal(0.55e-3, LanguageModelTrainer.LearningRate(o, 100, 0.5), 12);
        Assert.Equal(1e-4, LanguageModelTrainer.LearningRate(o, 1000, 1), 12);
    }

    [Fact]
    public void Training_LowersLoss_AndTheSavedBf16ModelLoadsAndBeatsAnUntrainedOne()
    {
        var (tokenizer, eos, ids) = TrainingSample.Tokens();
        var config = TrainingSample.TinyConfig(tokenizer.VocabSize, eos, layers: 2);
        var options = new TrainingOptions
        {
            Duration = TimeSpan.FromSeconds(60), MaxSteps = 60, Context = 32, BatchSize = 8, PeakLearningRate = 1e-2,
            WarmupSteps = 5, Seed = 3,
        };

        string dir = Path.Combine(Path.GetTempPath(), "specedge-tests", $"trained-{Guid.NewGuid():N}");
        TrainingReport report;
        using (var model = new CausalLm(config, ModelWeights.Random(config, 3, ScalarType.Float32, requiresGrad: true), ScalarType.Float32, CPU))
        {
            report = LanguageModelTrainer.Train(model, ids, options);
            DemoPairRecipe.SaveBf16(model, dir);
        }
        Assert.Equal(60, report.Steps);   // the 60 s cap only guards against a stalled machine
        Assert.True(report.MeanLastLoss(10) < report.MeanFirstLoss(5) - 1.0,
            $"loss should fall by more than a nat: first {report.MeanFirstLoss(5):F3}, last {report.MeanLastLoss(10):F3}");

        using var loaded = CausalLm.Load(dir);
        Assert.Equal(ScalarType.BFloat16, loaded.DType);
        Assert.Equal(config.HiddenSize, loaded.Config.HiddenSize);
        using var untrained = new CausalLm(config, ModelWeights.Random(config, 4, ScalarType.Float32), ScalarType.Float32, CPU);
        double trainedBpb = LanguageModelEvaluator.BitsPerByte(loaded, ids, tokenizer, 32, 8);
        double untrainedBpb = LanguageModelEvaluator.BitsPerByte(untrained, ids, tokenizer, 32, 8);
        Assert.True(trainedBpb < untrainedBpb - 0.5, $"trained {trainedBpb:F3} vs untrained {untrainedBpb:F3} bits/byte");
    }
}
