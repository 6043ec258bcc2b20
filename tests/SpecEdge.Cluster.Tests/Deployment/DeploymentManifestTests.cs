using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests.Deployment;

/// <summary>
/// What can be checked of infra/ without a Kubernetes cluster or a container engine: the manifests render, every
/// environment variable they (and the VM env file, and the images) give a silo is a key the silo reads, the GPU overlay
/// has what a GPU node pool needs, the Dockerfiles pass our lint and copy what the publish script produces, and the VM
/// install script lays out what the systemd unit expects.
/// </summary>
[Trait("Kind", "process")]
public sealed class DeploymentManifestTests(ITestOutputHelper output)
{
    private static readonly string Infra = Path.Combine(ClusterFixture.RepoRoot(), "infra");

    [Fact]
    public void SiloConfigurationKeys_KnowTheSilosKeys_AndRejectTypos()
    {
        Assert.Null(SiloConfigurationKeys.Problem("Cluster__Clustering"));
        Assert.Null(SiloConfigurationKeys.Problem("cluster__advertisedaddress"));
        Assert.Null(SiloConfigurationKeys.Problem("SpecEdge__TargetModel"));
        Assert.Null(SiloConfigurationKeys.Problem("Security__Keys__k1"));
        Assert.Null(SiloConfigurationKeys.Problem("Tls__EdgeCaFile"));
        Assert.Null(SiloConfigurationKeys.Problem("POD_IP"));
        Assert.Contains("Clusterin", SiloConfigurationKeys.Problem("Cluster__Clusterin"));
        Assert.Contains("no configuration section", SiloConfigurationKeys.Problem("Clusters__Clustering"));
        Assert.Contains("needs a key", SiloConfigurationKeys.Problem("Security__Keys"));
        Assert.Contains("never reads it", SiloConfigurationKeys.Problem("POD_ADDRESS"));
    }

    [SkippableTheory]
    [InlineData("k8s/base")]
    [InlineData("k8s/overlays/gpu")]
    public void Kustomization_Renders_AndGivesTheSiloOnlyKeysItReads(string directory)
    {
        Skip.If(Kubectl.UnavailableReason is not null, $"kubectl unavailable ({Kubectl.UnavailableReason})");
        var manifest = new RenderedManifest(Kubectl.Kustomize(Path.Combine(Infra, directory)));
        var names = manifest.EnvNames();
        output.WriteLine($"{directory}: {names.Count} env vars: {string.Join(" ", names)}");

        Assert.True(names.Count >= 10, $"expected the silo's environment in the rendered manifest, found {names.Count} names");
        Assert.Empty(names.GroupBy(n => n, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key));
        Assert.Empty(names.Select(SiloConfigurationKeys.Problem).OfType<string>());
        foreach (var required in new[] { "POD_IP", "POD_NAME", "Cluster__Clustering", "Cluster__StorageConnectionString", "SpecEdge__TargetModel", "Security__KeyFile", "Tls__CertificateFile" })
            Assert.Contains(required, names);
        Assert.Equal("azuretable", manifest.EnvValue("Cluster__Clustering"));
        // Secrets come from Kubernetes secrets, never literal values.
        Assert.Null(manifest.EnvValue("Cluster__StorageConnectionString"));
        Assert.Contains("secretKeyRef:", manifest.Yaml);
    }

    [SkippableFact]
    public void GpuOverlay_RunsOneSiloPerGpuNode_WithHealthProbesPdbDownwardApiAndGracefulShutdown()
    {
        Skip.If(Kubectl.UnavailableReason is not null, $"kubectl unavailable ({Kubectl.UnavailableReason})");
        var gpu = new RenderedManifest(Kubectl.Kustomize(Path.Combine(Infra, "k8s/overlays/gpu")));

        Assert.Matches(@"limits:\s+nvidia\.com/gpu: 1", gpu.Yaml);
        Assert.Matches(@"podAntiAffinity:\s+requiredDuringSchedulingIgnoredDuringExecution:", gpu.Yaml);
        Assert.Contains("topologyKey: kubernetes.io/hostname", gpu.Yaml);
        Assert.Equal("cuda:0", gpu.EnvValue("SpecEdge__Devices"));
        Assert.Contains("image: specedge/silo:gpu", gpu.Yaml);
        Assert.Matches(@"name: POD_IP\s+valueFrom:\s+fieldRef:\s+fieldPath: status\.podIP", gpu.Yaml);
        Assert.Matches(@"name: POD_NAME\s+valueFrom:\s+fieldRef:\s+fieldPath: metadata\.name", gpu.Yaml);
        Assert.Matches(@"readinessProbe:\s+(\w+: \S+\s+)*httpGet:\s+path: /health/ready\s+port: http", gpu.Yaml);
        Assert.Matches(@"livenessProbe:\s+(\w+: \S+\s+)*httpGet:\s+path: /health/live\s+port: http", gpu.Yaml);
        Assert.Matches(@"containerPort: 8080\s+name: http", gpu.Yaml);
        Assert.Contains("kind: PodDisruptionBudget", gpu.Yaml);
        // The host's shutdown (Orleans leaving the cluster, sessions deactivating) must finish before Kubernetes kills.
        int grace = gpu.Int("terminationGracePeriodSeconds");
        int shutdown = int.Parse(gpu.EnvValue("shutdownTimeoutSeconds")!);
        Assert.True(shutdown + 5 < grace, $"shutdownTimeoutSeconds {shutdown} + preStop 5 s must fit in terminationGracePeriodSeconds {grace}");
        // The Kestrel address the probes use is the one the silo listens on.
        Assert.Equal("http://0.0.0.0:8080", gpu.EnvValue("ASPNETCORE_URLS"));
    }

    [Fact]
    public void VmEnvironmentFile_HoldsOnlyKeysTheSiloReads()
    {
        var keys = File.ReadAllLines(Path.Combine(Infra, "vm", "silo.env"))
            .Where(l => l.Length > 0 && !l.StartsWith('#')).Select(l => l.Split('=', 2)[0]).ToList();
        output.WriteLine(string.Join(" ", keys));
        Assert.Contains("Cluster__AdvertisedAddress", keys);
        Assert.Empty(keys.Select(SiloConfigurationKeys.Problem).OfType<string>());
    }

    [Fact]
    public void VmInstallScript_LaysOutWhatTheSystemdUnitRuns()
    {
        // A stand-in publish (the real one is ~1 GB): install.sh only copies it.
        var root = Directory.CreateTempSubdirectory("specedge-vm-").FullName;
        var publish = Directory.CreateDirectory(Path.Combine(root, "publish")).FullName;
        File.WriteAllText(Path.Combine(publish, "SpecEdge.Silo"), "#!/bin/sh\n");
        File.SetUnixFileMode(Path.Combine(publish, "SpecEdge.Silo"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var prefix = Path.Combine(root, "root");
        var run = Run("bash", [Path.Combine(Infra, "vm", "install.sh"), publish], ("PREFIX", prefix));
        Assert.True(run.ExitCode == 0, run.Output);

        var unit = File.ReadAllText(Path.Combine(prefix, "etc/systemd/system/specedge-silo.service"));
        string Value(string key) => Regex.Match(unit, $"^{key}=(.*)$", RegexOptions.Multiline).Groups[1].Value.Trim();
        Assert.True(File.Exists(prefix + Value("ExecStart")), $"ExecStart {Value("ExecStart")} is not where install.sh put the silo");
        Assert.True(File.Exists(prefix + Value("EnvironmentFile")), $"EnvironmentFile {Value("EnvironmentFile")} is not where install.sh put it");
        Assert.True(Directory.Exists(prefix + Value("WorkingDirectory")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(prefix + Value("EnvironmentFile")));
        Assert.True(int.Parse(Value("TimeoutStopSec")) > int.Parse(EnvFileValue("shutdownTimeoutSeconds")));

        // A second install keeps the operator's edited env file and the previous build.
        File.AppendAllText(prefix + Value("EnvironmentFile"), "# edited\n");
        Assert.Equal(0, Run("bash", [Path.Combine(Infra, "vm", "install.sh"), publish], ("PREFIX", prefix)).ExitCode);
        Assert.EndsWith("# edited\n", File.ReadAllText(prefix + Value("EnvironmentFile")));
        Assert.True(Directory.Exists(Path.Combine(prefix, "opt/specedge/silo.previous")));
        if (File.Exists("/usr/bin/systemd-analyze"))
        {
            var verify = Run("systemd-analyze", ["verify", "--man=no", Path.Combine(Infra, "vm", "specedge-silo.service")]);
            // The binary and user do not exist on this machine; anything else systemd complains about is a unit error.
            var complaints = verify.Output.Split('\n').Where(l => l.Trim().Length > 0 && !l.Contains("/opt/specedge/silo") && !l.Contains("specedge-silo.service: Failed to") && !l.Contains("User")).ToList();
            output.WriteLine(verify.Output);
            Assert.Empty(complaints.Where(l => l.Contains("Unknown") || l.Contains("Invalid") || l.Contains("bad", StringComparison.OrdinalIgnoreCase)));
        }
    }

    [Theory]
    [InlineData("silo-gpu.Dockerfile", "silo --gpu", "silo-gpu", "SpecEdge.Silo")]
    [InlineData("silo-cpu.Dockerfile", "silo", "silo", "SpecEdge.Silo")]
    [InlineData("edge-host.Dockerfile", "edge-host", "edge-host", "SpecEdge.EdgeHost")]
    public void Dockerfile_IsLintClean_AndCopiesThePublishOfItsProgram(string file, string publishArgs, string publishDir, string program)
    {
        var lines = File.ReadAllLines(Path.Combine(Infra, "docker", file));
        var text = string.Join('\n', lines);
        var instructions = lines.Where(l => l.Length > 0 && !l.StartsWith('#') && !char.IsWhiteSpace(l[0])).ToList();

        var from = Assert.Single(instructions, i => i.StartsWith("FROM "));
        Assert.Matches(@"^FROM [\w./-]+:[\w.-]+$", from);                 // pinned tag, no build stage to trust
        Assert.DoesNotContain(":latest", from);
        Assert.DoesNotContain(instructions, i => i.StartsWith("ADD "));   // COPY only; ADD fetches URLs and unpacks
        Assert.Contains("--no-install-recommends", text);
        Assert.Contains("rm -rf /var/lib/apt/lists/*", text);
        Assert.Matches(@"^USER \d+$", instructions.Last(i => i.StartsWith("USER ")));
        Assert.NotEqual("USER 0", instructions.Last(i => i.StartsWith("USER ")));
        Assert.Equal($"ENTRYPOINT [\"/app/{program}\"]", instructions.Last());
        var copy = Assert.Single(instructions, i => i.StartsWith("COPY "));
        Assert.Equal($"COPY artifacts/publish/{publishDir}/ /app/", copy);
        // The publish script writes exactly there, and its header says how to produce it.
        Assert.Contains($"bash infra/publish.sh {publishArgs}", text);
        var publish = File.ReadAllText(Path.Combine(Infra, "publish.sh"));
        Assert.Contains("out=\"artifacts/publish/$what\"", publish);
        if (publishDir.EndsWith("-gpu")) Assert.Contains("out=\"$out-gpu\"; props+=(-p:TorchBackend=cuda)", publish);
        // Every ENV key an image sets is one the program reads (silo) or the runtime's own.
        foreach (Match env in Regex.Matches(text, @"(?:ENV |\\\n\s+)(\w+)="))
            if (program == "SpecEdge.Silo") Assert.Null(SiloConfigurationKeys.Problem(env.Groups[1].Value));
        if (program == "SpecEdge.Silo")
            foreach (var port in new[] { "11111", "30000", "8080", "30443" }) Assert.Contains(port, instructions.Single(i => i.StartsWith("EXPOSE ")));
    }

    private static string EnvFileValue(string key) =>
        File.ReadAllLines(Path.Combine(Infra, "vm", "silo.env")).Single(l => l.StartsWith(key + "=")).Split('=', 2)[1];

    private static (int ExitCode, string Output) Run(string file, string[] args, params (string Key, string Value)[] env)
    {
        var start = new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
