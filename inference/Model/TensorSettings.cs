using static TorchSharp.torch;

namespace SpecEdge.Inference.Model;

/// <summary>Parses the dtype and device names used in configuration (<c>fp32|bf16|fp16|auto</c>, <c>cpu|cuda|cuda:N</c>).</summary>
public static class TensorSettings
{
    /// <summary><c>auto</c> takes the checkpoint's own torch_dtype.</summary>
    public static ScalarType ParseDType(string name, string checkpointDtype = "float32") => name.Trim().ToLowerInvariant() switch
    {
        "auto" => ParseDType(checkpointDtype),
        "fp32" or "float32" or "float" => ScalarType.Float32,
        "bf16" or "bfloat16" => ScalarType.BFloat16,
        "fp16" or "float16" or "half" => ScalarType.Float16,
        _ => throw new ArgumentException($"Unknown dtype '{name}'; use fp32, bf16, fp16 or auto."),
    };

    public static Device ParseDevice(string name)
    {
        var n = name.Trim().ToLowerInvariant();
        if (n == "cpu") return CPU;
        if (n.StartsWith("cuda"))
        {
            if (!cuda.is_available())
                throw new InvalidOperationException(
                    $"Device '{name}' requested but CUDA is not available (this build uses the TorchSharp CPU backend unless built with -p:TorchBackend=cuda).");
            return n == "cuda" ? CUDA : new Device(n);
        }
        throw new ArgumentException($"Unknown device '{name}'; use cpu, cuda or cuda:N.");
    }

    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "fp32",
        ScalarType.BFloat16 => "bf16",
        ScalarType.Float16 => "fp16",
        _ => dtype.ToString(),
    };
}
