using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace SpecEdge.Inference.Weights;

/// <summary>Where one tensor lives inside a safetensors file.</summary>
public sealed record SafeTensorInfo(string Name, ScalarType DType, long[] Shape, long Begin, long End);

/// <summary>
/// Reads one <c>.safetensors</c> file: 8-byte little-endian header length, a JSON header, then raw little-endian data.
/// Tensors are memory-mapped (copy-on-write, loaded lazily by the OS) when their offset is aligned to their element
/// size, otherwise copied. Every inconsistency (truncation, offsets, sizes) fails with a message naming file and tensor.
/// </summary>
public sealed class SafeTensorsFile : IDisposable
{
    private readonly Dictionary<ScalarType, Tensor> _mapped = new();
    private readonly long _dataStart;
    private readonly long _fileLength;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafeTensorsFile(string path, long dataStart, long fileLength,
        Dictionary<string, SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Path = path; _dataStart = dataStart; _fileLength = fileLength; Tensors = tensors; Metadata = metadata;
    }

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Weights file not found: {path}", path);
        long fileLength = new FileInfo(path).Length;
        if (fileLength < 8) throw new InvalidDataException($"{path}: truncated safetensors file ({fileLength} bytes, no header).");

        byte[] header;
        using (var stream = File.OpenRead(path))
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            stream.ReadExactly(lengthBytes);
            ulong headerLength = BitConverter.ToUInt64(lengthBytes);
            if (headerLength > (ulong)(fileLength - 8))
                throw new InvalidDataException(
                    $"{path}: truncated safetensors file: header claims {headerLength} bytes but only {fileLength - 8} follow.");
            header = new byte[headerLength];
            stream.ReadExactly(header);
        }

        long dataStart = 8 + header.Length;
        long dataLength = fileLength - dataStart;
        JsonObject root;
        try { root = JsonNode.Parse(Encoding.UTF8.GetString(header)) as JsonObject ?? throw new InvalidDataException("header is not a JSON object"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: safetensors header is not valid JSON: {e.Message}", e); }

        var tensors = new Dictionary<string, SafeTensorInfo>();
        var metadata = new Dictionary<string, string>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta) metadata[k] = v?.ToString() ?? "";
                continue;
            }
            if (node is not JsonObject t) throw new InvalidDataException($"{path}: entry '{name}' is not an object.");
            string dtypeName = t["dtype"]?.GetValue<string>() ?? throw new InvalidDataException($"{path}: tensor '{name}' has no dtype.");
            var dtype = ParseDType(dtypeName, path, name);
            long[] shape = (t["shape"] as JsonArray)?.Select(x => x!.GetValue<long>()).ToArray()
                ?? throw new InvalidDataException($"{path}: tensor '{name}' has no shape.");
            var offsets = t["data_offsets"] as JsonArray;
            if (offsets is not { Count: 2 }) throw new InvalidDataException($"{path}: tensor '{name}' has no data_offsets.");
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            long expected = shape.Aggregate(1L, (a, b) => a * b) * ElementSize(dtype);
            if (begin < 0 || end < begin || end - begin != expected)
                throw new InvalidDataException(
                    $"{path}: tensor '{name}' spans {end - begin} bytes but shape [{string.Join(", ", shape)}] of {dtypeName} needs {expected}.");
            if (end > dataLength)
                throw new InvalidDataException(
                    $"{path}: truncated safetensors file: tensor '{name}' ends at byte {end} of the data section but only {dataLength} bytes are present.");
            tensors[name] = new SafeTensorInfo(name, dtype, shape, begin, end);
        }
        return new SafeTensorsFile(path, dataStart, fileLength, tensors, metadata);
    }

    /// <summary>
    /// The tensor <paramref name="name"/> as stored (dtype and shape from the file). Aligned tensors are views of a
    /// private memory map of the file: free until touched, and never written back.
    /// </summary>
    public Tensor Read(string name)
    {
        if (!Tensors.TryGetValue(name, out var info))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'.");
        long size = ElementSize(info.DType);
        long numel = (info.End - info.Begin) / size;
        long absolute = _dataStart + info.Begin;
        if (absolute % size == 0)
        {
            if (!_mapped.TryGetValue(info.DType, out var mapped))
            {
                mapped = from_file(Path, shared: false, size: _fileLength / size, dtype: info.DType);
                _mapped[info.DType] = mapped;
            }
            return mapped.narrow(0, absolute / size, numel).view(info.Shape);
        }
        var bytes = new byte[info.End - info.Begin];
        using (var stream = File.OpenRead(Path))
        {
            stream.Position = absolute;
            stream.ReadExactly(bytes);
        }
        var result = empty(info.Shape, info.DType);
        bytes.CopyTo(result.bytes);
        return result;
    }

    public void Dispose()
    {
        foreach (var t in _mapped.Values) t.Dispose();
        _mapped.Clear();
    }

    internal static ScalarType ParseDType(string name, string path, string tensor) => name switch
    {
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "F64" => ScalarType.Float64,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new NotSupportedException($"{path}: tensor '{tensor}' has unsupported dtype '{name}'."),
    };

    internal static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Float64 => "F64",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new NotSupportedException($"dtype {dtype} cannot be written to safetensors."),
    };

    internal static long ElementSize(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 or ScalarType.Int64 => 8,
        ScalarType.Float32 or ScalarType.Int32 => 4,
        ScalarType.Float16 or ScalarType.BFloat16 or ScalarType.Int16 => 2,
        _ => 1,
    };
}
