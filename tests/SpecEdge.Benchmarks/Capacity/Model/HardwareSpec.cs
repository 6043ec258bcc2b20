namespace SpecEdge.Benchmarks.Capacity;

/// <summary>
/// Published peak figures of a device (dense bf16 tensor FLOPs, memory bandwidth, memory) and the rental price assumed
/// for it, each with where it comes from. Peaks, not achieved rates: a roofline on them is a best case.
/// </summary>
public sealed record HardwareSpec(string Name, double BandwidthBytesPerSecond, double PeakFlopsPerSecond, double MemoryBytes,
    double DollarsPerHour, string Source)
{
    /// <summary>NVIDIA A100 80GB SXM datasheet: 2,039 GB/s HBM2e, 312 TFLOPS bf16 dense; 5.05 $/h as priced in the SpecEdge paper.</summary>
    public static HardwareSpec A100Sxm80 { get; } = new("A100 80GB SXM", 2.039e12, 312e12, 80e9, 5.05,
        "NVIDIA A100 datasheet (2,039 GB/s, 312 TFLOPS bf16 dense); price: SpecEdge paper (A100-80GB 5.05 $/h)");

    /// <summary>NVIDIA H200 SXM datasheet: 4.8 TB/s HBM3e, 989 TFLOPS bf16 dense (1,979 with sparsity), 141 GB.</summary>
    public static HardwareSpec H200Sxm { get; } = new("H200 SXM", 4.8e12, 989e12, 141e9, 4.54,
        "NVIDIA H200 datasheet (4.8 TB/s, 989 TFLOPS bf16 dense = 1,979 sparse / 2); price: Spheron on-demand H200 SXM 4.54 $/h (17 Mar 2026)");

    /// <summary>
    /// Jetson Orin Nano 8GB Developer Kit, "Super" clocks (JetPack 6.1): 102 GB/s LPDDR5 shared with the CPU, 67 TOPS
    /// INT8 with sparsity, hence about 16.75 TFLOPS fp16 dense (halved for density, halved again for fp16: derived, not
    /// published); 8 GB. Owned by its user: no rental price.
    /// </summary>
    public static HardwareSpec JetsonOrinNanoSuper { get; } = new("Jetson Orin Nano Super", 102e9, 16.75e12, 8e9, 0,
        "NVIDIA Jetson Orin Nano Super Developer Kit datasheet (Dec 2024: 102 GB/s, 67 INT8 TOPS sparse); fp16 dense = 67 / 2 / 2 (derived)");

    /// <summary>RTX 4090 (Ada whitepaper): 1,008 GB/s GDDR6X, 165.2 TFLOPS bf16 tensor with fp32 accumulate, dense; 24 GB.</summary>
    public static HardwareSpec Rtx4090 { get; } = new("RTX 4090", 1.008e12, 165.2e12, 24e9, 0.35,
        "NVIDIA Ada GPU architecture whitepaper (1,008 GB/s, 165.2 TFLOPS bf16/fp16 tensor with fp32 accumulate, dense); price: SpecEdge paper (0.35 $/h)");
}
