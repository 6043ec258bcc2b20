using System.Runtime.CompilerServices;
using SpecEdge.Inference.Training;

namespace SpecEdge.Inference.Tests.Training;

/// <summary>
/// Runs when the test assembly loads, before any test touches TorchSharp: spinning OpenMP threads made a tiny training
/// loop many times slower on the shared 2-core build machines (see <see cref="OpenMpSettings"/>).
/// </summary>
internal static class OpenMpModuleInitializer
{
    [ModuleInitializer]
    internal static void UsePassiveOpenMpWait() => OpenMpSettings.UsePassiveWaitUnlessSet();
}
