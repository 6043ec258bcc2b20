using SpecEdge.Inference.Model;
using SpecEdge.Inference.Training;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Training;

/// <summary>
/// Early-exit heads (<see cref="EarlyExitDistiller"/>, <see cref="EarlyExitHead"/>): the exit reads the residual stream
/// where the full forward has it, distillation raises the head's agreement with the final layer above the untrained
/// lens, and a stored head loads back identically, or fails naming what is wrong with it.
/// </summary>
[Collection(TrainingCollection.Name)]
[Trait("Kind", "unit")]
public class EarlyExitDistillerTests
{
    [Fact]
    public void DistilledExitHead_AgreesWithTheFinalLayerMoreThanTheLens_AndRoundTripsThroughItsFiles()
    {
        var (tokenizer, eos, ids) = TrainingSample.Tokens();
        var config = TrainingSample.TinyConfig(tokenizer.VocabSize, eos, layers: 4);
        using var target = new CausalLm(config, ModelWeights.Random(config, 3, ScalarType.Float32, requiresGrad: true), ScalarType.Float32, CPU);
        LanguageModelTrainer.Train(target, ids, new TrainingOptions
        {
            Duration = TimeSpan.FromMinutes(10), MaxSteps = 80, Context = 32, BatchSize = 8, PeakLearningRate = 1e-2, WarmupSteps = 5, Seed = 3,
        });
        int split = ids.Length * 9 / 10;
        var train = ids[..split];
        var heldOut = ids[split..];

        // At the last layer the exit is the final layer itself: the untrained head agrees everywhere.
        using (var last = EarlyExitHead.FromFinalLayer(target, 3))
        using (no_grad())
        {
            var input = tensor(ids.Take(32).Select(i => (long)i).ToArray(), new long[] { 1, 32 });
            var (logits, full) = target.ForwardFull(input, exitAfterLayers: 4);
            Assert.True(new EarlyExitHead(4, last.Norm, last.LmHead, config.RmsNormEps).Logits(full!).allclose(logits, rtol: 1e-5, atol: 1e-5));
        }

        var (head, report) = EarlyExitDistiller.Train(target, train, heldOut,
            new EarlyExitDistiller.Options { Layer = 0, MaxSteps = 120, Duration = TimeSpan.FromMinutes(10), Context = 32, BatchSize = 8, PeakLearningRate = 1e-2, WarmupSteps = 5 });
        using var trained = head;
        Assert.Equal(2, report.Layer);   // default: half of 4 layers
        Assert.True(report.Top1Agreement > report.Top1AgreementUntrained + 0.05,
            $"distillation should raise the exit's agreement with the final layer: {report.Top1AgreementUntrained:P1} -> {report.Top1Agreement:P1}");

        string dir = Directory.CreateTempSubdirectory("specedge-exit-").FullName;
        try
        {
            head.Save(dir);
            using var loaded = EarlyExitHead.Load(dir, config, ScalarType.Float32, CPU)!;
            Assert.Equal(2, loaded.Layer);
            Assert.Equal(report.Top1Agreement, EarlyExitDistiller.Top1Agreement(loaded, target, heldOut, 32, 8, out _));

            // Damaged or mismatched heads are refused by name; a directory without one has none.
            Assert.Null(EarlyExitHead.Load(Directory.CreateTempSubdirectory("specedge-noexit-").FullName, config, ScalarType.Float32, CPU));
            var wider = config with { HiddenSize = config.HiddenSize * 2 };
            Assert.Contains("early_exit.norm.weight", Assert.Throws<InvalidDataException>(() => EarlyExitHead.Load(dir, wider, ScalarType.Float32, CPU)).Message);
            // A shortlist travels in the JSON; one with an id outside the vocabulary is refused.
            var frequent = EarlyExitDistiller.MostFrequent(train, 16);
            Assert.Equal(frequent.Order(), frequent);
            new EarlyExitHead(trained.Layer, trained.Norm, trained.LmHead, config.RmsNormEps) { Shortlist = frequent }.Save(dir);
            using (var withShortlist = EarlyExitHead.Load(dir, config, ScalarType.Float32, CPU)!)
                Assert.Equal(frequent, withShortlist.Shortlist);
            new EarlyExitHead(trained.Layer, trained.Norm, trained.LmHead, config.RmsNormEps) { Shortlist = [config.VocabSize] }.Save(dir);
            Assert.Contains("shortlist", Assert.Throws<InvalidDataException>(() => EarlyExitHead.Load(dir, config, ScalarType.Float32, CPU)).Message);
            trained.Save(dir);
            var shallow = config with { NumHiddenLayers = 2 };
            Assert.Contains("layer", Assert.Throws<InvalidDataException>(() => EarlyExitHead.Load(dir, shallow, ScalarType.Float32, CPU)).Message);
            string weights = Path.Combine(dir, EarlyExitHead.WeightsFile);
            var bytes = File.ReadAllBytes(weights);
            File.WriteAllBytes(weights, bytes[..(bytes.Length / 2)]);
            Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => EarlyExitHead.Load(dir, config, ScalarType.Float32, CPU)).Message);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
