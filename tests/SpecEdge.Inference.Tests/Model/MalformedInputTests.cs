using System.Text.Json.Nodes;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Weights;
using Xunit;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Tests.Model;

[Trait("Kind", "unit")]
public class MalformedInputTests
{
    private static readonly ModelConfig Config = TestModels.Config("qwen3", tied: false);

    [Fact]
    public void TruncatedSafetensors_FailsNamingTheFileAndTensor()
    {
        string dir = TestModels.Write(Config, seed: 1);
        string file = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length - 100)]);
        var e = Assert.Throws<InvalidDataException>(() => CausalLm.Load(dir));
        Assert.Contains("truncated", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }

    [Fact]
    public void TruncatedHeader_FailsWithClearMessage()
    {
        string dir = TestModels.Write(Config, seed: 1);
        string file = Path.Combine(dir, "model.safetensors");
        File.WriteAllBytes(file, File.ReadAllBytes(file)[..50]);
        var e = Assert.Throws<InvalidDataException>(() => CausalLm.Load(dir));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TensorOfWrongShape_FailsNamingTensorAndShapes()
    {
        string dir = RewriteWeights(w => w["model.layers.1.mlp.up_proj.weight"] = zeros(100, 64));
        var e = Assert.Throws<InvalidDataException>(() => CausalLm.Load(dir));
        Assert.Contains("model.layers.1.mlp.up_proj.weight", e.Message);
        Assert.Contains("[100, 64]", e.Message);
        Assert.Contains("[128, 64]", e.Message);
    }

    [Fact]
    public void MissingTensor_FailsNamingIt()
    {
        string dir = RewriteWeights(w => w.Remove("model.layers.0.self_attn.k_norm.weight"));
        var e = Assert.Throws<InvalidDataException>(() => CausalLm.Load(dir));
        Assert.Contains("missing tensor 'model.layers.0.self_attn.k_norm.weight'", e.Message);
    }

    [Fact]
    public void UnknownModelType_FailsNamingIt()
    {
        string dir = TestModels.Write(Config, seed: 1);
        string path = Path.Combine(dir, "config.json");
        var json = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        json["model_type"] = "mamba";
        File.WriteAllText(path, json.ToJsonString());
        var e = Assert.Throws<NotSupportedException>(() => CausalLm.Load(dir));
        Assert.Contains("unknown model_type 'mamba'", e.Message);
    }

    [Fact]
    public void TokenOutsideVocabulary_FailsAndLeavesCacheUntouched()
    {
        using var model = CausalLm.Load(TestModels.Write(Config, seed: 1));
        using var cache = model.NewCache(16);
        using var other = model.NewCache(16);
        model.Forward(new[] { SequenceInput.Chain(cache, new[] { 1, 2, 3 }) })[0].Dispose();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() =>
            model.Forward(new[] { SequenceInput.Chain(other, new[] { 4 }), SequenceInput.Chain(cache, new[] { 5, Config.VocabSize }) }));
        Assert.Contains($"Token id {Config.VocabSize} at node 1 is outside the vocabulary", e.Message);
        Assert.Equal(3, cache.Length);
        Assert.Equal(0, other.Length);
    }

    [Theory]
    [InlineData(new[] { -1, 1, 0 }, 1)]   // self-reference
    [InlineData(new[] { -1, 2, 0 }, 1)]   // forward reference
    [InlineData(new[] { -1, 0, -2 }, 2)]  // below -1
    public void ParentNotEarlierThanNode_FailsNamingTheNode(int[] parents, int badNode)
    {
        using var model = CausalLm.Load(TestModels.Write(Config, seed: 1));
        using var cache = model.NewCache(16);
        var e = Assert.Throws<ArgumentException>(() => model.Forward(new[] { new SequenceInput(cache, new[] { 3, 4, 5 }, parents) }));
        Assert.Contains($"Node {badNode} has parent index {parents[badNode]}", e.Message);
        Assert.Equal(0, cache.Length);
    }

    [Fact]
    public void ExceedingKvCapacity_FailsClearlyAndKeepsTheCache()
    {
        using var model = CausalLm.Load(TestModels.Write(Config, seed: 1));
        using var cache = model.NewCache(8);
        model.Forward(new[] { SequenceInput.Chain(cache, new[] { 1, 2, 3, 4, 5, 6 }) })[0].Dispose();
        var e = Assert.Throws<KvCapacityExceededException>(() => model.Forward(new[] { SequenceInput.Chain(cache, new[] { 1, 2, 3 }) }));
        Assert.Contains("6 cached + 3 new > 8", e.Message);
        Assert.Equal(6, cache.Length);
    }

    [Fact]
    public void ShardedCheckpoint_LoadsTheSameModel()
    {
        string dir = TestModels.Write(Config, seed: 8);
        string sharded = Path.Combine(Path.GetTempPath(), "specedge-tests", $"sharded-{Guid.NewGuid():N}");
        Directory.CreateDirectory(sharded);
        File.Copy(Path.Combine(dir, "config.json"), Path.Combine(sharded, "config.json"));
        var map = new JsonObject();
        using (var file = SafeTensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            var names = file.Tensors.Keys.OrderBy(n => n).ToList();
            var halves = new[] { names.Take(names.Count / 2).ToList(), names.Skip(names.Count / 2).ToList() };
            for (int s = 0; s < 2; s++)
            {
                string shard = $"model-0000{s + 1}-of-00002.safetensors";
                SafeTensorsWriter.Write(Path.Combine(sharded, shard), halves[s].Select(n => new KeyValuePair<string, Tensor>(n, file.Read(n))));
                foreach (var n in halves[s]) map[n] = shard;
            }
        }
        File.WriteAllText(Path.Combine(sharded, "model.safetensors.index.json"), new JsonObject { ["weight_map"] = map }.ToJsonString());

        using var a = CausalLm.Load(dir);
        using var b = CausalLm.Load(sharded);
        var tokens = new[] { 5, 9, 33, 2 };
        TestModels.AssertClose(TestModels.FullLastLogits(a, tokens), TestModels.FullLastLogits(b, tokens), 0, "sharded vs single");
    }

    private static string RewriteWeights(Action<Dictionary<string, Tensor>> edit)
    {
        string dir = TestModels.Write(Config, seed: 1);
        string path = Path.Combine(dir, "model.safetensors");
        Dictionary<string, Tensor> tensors;
        using (var file = SafeTensorsFile.Open(path))
            tensors = file.Tensors.Keys.ToDictionary(n => n, n => file.Read(n).clone());
        edit(tensors);
        SafeTensorsWriter.Write(path, tensors);
        return dir;
    }
}
