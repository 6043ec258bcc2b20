using SpecEdge.Inference.Model;
using SpecEdge.Inference.Training;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Training;

/// <summary>
/// Distillation (<see cref="DraftDistiller"/>): the loss measures disagreement with the target, and minimising it raises
/// agreement. Step counts, not the clock, end the training here: a loaded machine must not cut it short.
/// </summary>
[Collection(TrainingCollection.Name)]
[Trait("Kind", "unit")]
public class DraftDistillerTests
{
    [Fact]
    public void Distillation_StartsFromTheTargetsLayers_AndRaisesTop1Agreement()
    {
        var (tokenizer, eos, ids) = TrainingSample.Tokens();
        var config = TrainingSample.TinyConfig(tokenizer.VocabSize, eos, layers: 3);
        using var target = new CausalLm(config, ModelWeights.Random(config, 3, ScalarType.Float32, requiresGrad: true), ScalarType.Float32, CPU);
        LanguageModelTrainer.Train(target, ids, new TrainingOptions
        {
            Duration = TimeSpan.FromMinutes(10), MaxSteps = 60, Context = 32, BatchSize = 8, PeakLearningRate = 1e-2, WarmupSteps = 5, Seed = 3,
        });

        // A model distilled against itself has nothing to learn: KL exactly 0.
        var selfLoss = DraftDistiller.DistillationLoss(target, temperature: 2.0, klWeight: 1.0);
        using (no_grad())
        {
            var input = tensor(ids.Take(33).Select(i => (long)i).ToArray(), new long[] { 1, 33 });
            var window = input.narrow(1, 0, 32);
            Assert.True(selfLoss(window, target.ForwardFull(window), input.narrow(1, 1, 32)).item<float>() < 1e-4f);
        }

        var draftConfig = DraftDistiller.DraftConfig(config, new DraftDistiller.Options { TargetDirectory = "", OutputDirectory = "", CorpusDirectory = "", Layers = 2 });
        var (weights, copied) = DraftDistiller.InitialWeights(target, draftConfig, seed: 5);
        Assert.Equal(new[] { 0, 2 }, copied);   // evenly spaced, first and last
        using var draft = new CausalLm(draftConfig, weights, ScalarType.Float32, CPU);
        Assert.True(draft.Weights.layers[1].q_proj.eq(target.Weights.layers[2].q_proj).all().item<bool>());

        // A narrower draft cannot copy the target and starts from noise: distillation alone must teach it the target's choices.
        var smallConfig = DraftDistiller.DraftConfig(config, new DraftDistiller.Options { TargetDirectory = "", OutputDirectory = "", CorpusDirectory = "", HiddenSize = 32, Layers = 1 });
        var (smallWeights, none) = DraftDistiller.InitialWeights(target, smallConfig, seed: 5);
        Assert.Empty(none);
        using var small = new CausalLm(smallConfig, smallWeights, ScalarType.Float32, CPU);
        double before = LanguageModelEvaluator.Top1Agreement(small, target, ids, 32, 8);
        LanguageModelTrainer.Train(small, ids, new TrainingOptions
        {
            Duration = TimeSpan.FromMinutes(10), MaxSteps = 80, Context = 32, BatchSize = 8, PeakLearningRate = 1e-2, WarmupSteps = 5, Seed = 4,
        }, loss: DraftDistiller.DistillationLoss(target, temperature: 1.0, klWeight: 0.9));
        double after = LanguageModelEvaluator.Top1Agreement(small, target, ids, 32, 8);
        Assert.True(after > before + 0.2, $"distillation should raise agreement: {before:P1} -> {after:P1}");
    }
}
