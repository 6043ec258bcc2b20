using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>The edge host executable answers <c>--version</c> without loading a model or touching the network.</summary>
[Trait("Kind", "process")]
public sealed class EdgeHostVersionTests
{
    [Fact]
    public void Version_PrintsTheProgramVersionAndRuntime_AndExitsAtOnce()
    {
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string edgeExe = Path.Combine(ClusterFixture.RepoRoot(), "edge-host", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.EdgeHost");
        var start = new System.Diagnostics.ProcessStartInfo(edgeExe, ["--version", "--gateways", "not-an-endpoint"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = System.Diagnostics.Process.Start(start)!;
        string stdout = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(20)), "--version did not exit");
        Assert.Equal(0, process.ExitCode);
        Assert.Matches(@"^SpecEdge\.EdgeHost \d+\.\d+\.\d+\S* \(\.NET \d+\.\d+\.\d+, linux-x64\)\s*$", stdout);
    }
}
