using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Weights;

/// <summary>
/// The tensors of a Hugging Face checkpoint directory: a single <c>model.safetensors</c> or the shards named by
/// <c>model.safetensors.index.json</c>. Loads each tensor on demand, checking its shape, and converts dtype/device.
/// </summary>
public sealed class CheckpointWeights : IDisposable
{
    private readonly Dictionary<string, SafeTensorsFile> _fileOf = new();
    private readonly List<SafeTensorsFile> _files = new();

    public string Directory { get; }
    public IEnumerable<string> Names => _fileOf.Keys;

    private CheckpointWeights(string directory) => Directory = directory;

    public static CheckpointWeights Open(string directory)
    {
        var weights = new CheckpointWeights(directory);
        string single = Path.Combine(directory, "model.safetensors");
        string index = Path.Combine(directory, "model.safetensors.index.json");
        try
        {
            if (File.Exists(single))
            {
                weights.Add(SafeTensorsFile.Open(single));
            }
            else if (File.Exists(index))
            {
                var map = (JsonNode.Parse(File.ReadAllText(index)) as JsonObject)?["weight_map"] as JsonObject
                    ?? throw new InvalidDataException($"{index}: missing 'weight_map'.");
                var shards = map.Select(kv => kv.Value!.GetValue<string>()).Distinct().ToList();
                var opened = shards.ToDictionary(s => s, s => SafeTensorsFile.Open(Path.Combine(directory, s)));
                foreach (var f in opened.Values) weights._files.Add(f);
                foreach (var (name, shard) in map)
                {
                    var file = opened[shard!.GetValue<string>()];
                    if (!file.Tensors.ContainsKey(name))
                        throw new InvalidDataException($"{index}: maps '{name}' to {file.Path}, which has no such tensor.");
                    weights._fileOf[name] = file;
                }
            }
            else
            {
                throw new FileNotFoundException($"{directory}: no model.safetensors or model.safetensors.index.json.");
            }
        }
        catch
        {
            weights.Dispose();
            throw;
        }
        return weights;
    }

    private void Add(SafeTensorsFile file)
    {
        _files.Add(file);
        foreach (var name in file.Tensors.Keys) _fileOf[name] = file;
    }

    public bool Contains(string name) => _fileOf.ContainsKey(name);

    /// <summary>
    /// Loads <paramref name="name"/>, checks it has <paramref name="shape"/>, and returns it in <paramref name="dtype"/>
    /// on <paramref name="device"/>. When no conversion is needed on CPU the result still maps the file (no copy).
    /// </summary>
    public Tensor Load(string name, long[] shape, ScalarType dtype, Device device)
    {
        if (!_fileOf.TryGetValue(name, out var file))
            throw new InvalidDataException($"{Directory}: checkpoint is missing tensor '{name}'.");
        var info = file.Tensors[name];
        if (!info.Shape.SequenceEqual(shape))
            throw new InvalidDataException(
                $"{file.Path}: tensor '{name}' has shape [{string.Join(", ", info.Shape)}], expected [{string.Join(", ", shape)}] from config.json.");
        var stored = file.Read(name);
        if (stored.dtype == dtype && stored.device == device) return stored;
        var converted = stored.to(dtype, device);
        stored.Dispose();
        return converted;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
        _fileOf.Clear();
    }
}
