using System.Runtime.CompilerServices;

namespace SpecEdge.Inference.Tests;

internal static class TestAssemblySetup
{
    // Test models are tiny and xunit runs classes in parallel: one intra-op thread per forward avoids OpenMP
    // oversubscription, which on these 2-core VMs turns microsecond ops into millisecond ones.
    [ModuleInitializer]
    internal static void Init() => TorchSharp.torch.set_num_threads(1);
}
