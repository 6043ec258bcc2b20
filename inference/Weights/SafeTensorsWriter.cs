using System.Text;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Weights;

/// <summary>Writes tensors as a Hugging Face <c>.safetensors</c> file (header padded to 8 bytes, tensors sorted by name).</summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        var cpu = new List<Tensor>();
        foreach (var (name, tensor) in ordered)
        {
            var t = tensor.detach().cpu().contiguous();
            cpu.Add(t);
            long bytes = t.numel() * SafeTensorsFile.ElementSize(t.dtype);
            header[name] = new JsonObject
            {
                ["dtype"] = SafeTensorsFile.DTypeName(t.dtype),
                ["shape"] = new JsonArray(t.shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (headerBytes.Length + 7) / 8 * 8;
        var headerPadded = new byte[padded];
        Array.Fill(headerPadded, (byte)' ');
        headerBytes.CopyTo(headerPadded, 0);

        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        using var stream = File.Create(path);
        stream.Write(BitConverter.GetBytes((ulong)padded));
        stream.Write(headerPadded);
        foreach (var t in cpu)
        {
            stream.Write(t.bytes);
            t.Dispose();
        }
    }
}
