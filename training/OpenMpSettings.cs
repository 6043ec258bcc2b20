using System.Runtime.InteropServices;

namespace SpecEdge.Inference.Training;

/// <summary>
/// libtorch's OpenMP threads spin while they wait by default. On a 2-core machine shared with other work a spinning
/// thread steals the core its partner needs, and a training step took 3-8x longer (measured: 1.8 s instead of 0.45 s for
/// the target's forward). PASSIVE makes waiting threads sleep. libgomp reads the variable once, when libtorch loads,
/// so it must be set in the native environment (.NET's Environment.SetEnvironmentVariable does not reach getenv)
/// before the first TorchSharp call.
/// </summary>
public static partial class OpenMpSettings
{
    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);

    /// <summary>Sets OMP_WAIT_POLICY=PASSIVE unless the caller chose a policy; returns the policy in effect.</summary>
    public static string UsePassiveWaitUnlessSet()
    {
        var chosen = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY");
        if (chosen is not null) return chosen;
        if (OperatingSystem.IsLinux() && SetEnv("OMP_WAIT_POLICY", "PASSIVE", 0) != 0)
            return "default (setenv failed)";
        return "PASSIVE";
    }
}
