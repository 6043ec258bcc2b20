using System.Diagnostics;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// Runs <c>kubectl kustomize</c> (offline: rendering needs no cluster). infra/test.sh installs kubectl from apt; only
/// where apt cannot provide it does it set SPECEDGE_KUBECTL_UNAVAILABLE, and then the rendering checks report that
/// reason and check nothing else.
/// </summary>
public static class Kubectl
{
    public static string? UnavailableReason =>
        Find() is not null ? null
        : Environment.GetEnvironmentVariable("SPECEDGE_KUBECTL_UNAVAILABLE") is { Length: > 0 } reason ? reason
        : throw new InvalidOperationException("kubectl is not installed: apt-get install -y kubectl (infra/test.sh does it).");

    /// <summary>The rendered YAML of a kustomization directory; fails with kubectl's error text.</summary>
    public static string Kustomize(string directory)
    {
        var start = new ProcessStartInfo(Find()!, ["kustomize", directory]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"kubectl kustomize {directory} failed ({process.ExitCode}): {stderr}");
        return stdout.Result;
    }

    private static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "kubectl")).FirstOrDefault(File.Exists);
}
