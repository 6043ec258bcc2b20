using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SpecEdge.TestSupport;

/// <summary>
/// Starts Azurite's blob and table services (npm package in tests/azurite) on free ports, in memory, and stops it on
/// dispose. Shared by every test class in the "Azurite" collection; tests isolate themselves with
/// <see cref="NewContainerName"/>. The process also dies with the test host: it runs under a small wrapper that exits
/// when its stdin pipe closes, which the kernel does even when the test host is killed outright.
/// </summary>
public sealed class AzuriteFixture : IDisposable
{
    /// <summary>The emulator's fixed, publicly documented development key (not a secret).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly string _workDir;
    private readonly StringBuilder _output = new();

    /// <summary>On loopback, as the test collections use it.</summary>
    public AzuriteFixture() : this("127.0.0.1") { }

    /// <param name="host">Address the services listen on (another address than loopback for silos in network namespaces).</param>
    /// <param name="onDisk">
    /// Keep blob contents in files under a temporary folder instead of memory. For long runs: Azurite frees the
    /// contents of overwritten blobs only every 10 minutes, and in memory it then answers writes past its limit with
    /// 409 MemoryExtentStoreAtSizeLimit, which Orleans' provider reports as an ETag conflict (InconsistentStateException).
    /// </param>
    /// <remarks>Internal: xunit wants one public constructor on a collection fixture.</remarks>
    internal AzuriteFixture(string host, bool onDisk = false)
    {
        Host = host;
        var azuriteDir = Path.Combine(FindRepositoryRoot(), "tests", "azurite");
        var wrapper = Path.Combine(azuriteDir, "until-stdin-closes.js");
        var main = Path.Combine(azuriteDir, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (!File.Exists(main))
            throw new InvalidOperationException(
                $"Azurite is not installed ({main} is missing). Run `npm ci` in {azuriteDir} (infra/test.sh does it).");

        // Three distinct ports (the queue port is not used, but the all-in-one launcher starts it and must not clash).
        var ports = FreeLoopbackPorts(3);
        Port = ports[0];
        TablePort = ports[1];
        int queuePort = ports[2];
        var workDir = _workDir = Directory.CreateTempSubdirectory("specedge-azurite-").FullName; // Azurite touches its cwd
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = workDir,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     wrapper, "--blobHost", host, "--blobPort", Port.ToString(), "--tableHost", host, "--tablePort", TablePort.ToString(),
                     "--queueHost", "127.0.0.1", "--queuePort", queuePort.ToString(), "--skipApiVersionCheck", "--silent", "--disableTelemetry",
                 })
            start.ArgumentList.Add(arg);
        foreach (var arg in onDisk ? new[] { "--location", Path.Combine(workDir, "data") } : new[] { "--inMemoryPersistence", "--extentMemoryLimit", "256" })
            start.ArgumentList.Add(arg);

        var stopwatch = Stopwatch.StartNew();
        _process = Process.Start(start) ?? throw new InvalidOperationException("Could not start node for Azurite.");
        _process.OutputDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();
        try
        {
            WaitUntilListening(stopwatch);
        }
        catch
        {
            Stop();
            throw;
        }
        StartupTime = stopwatch.Elapsed;
    }

    /// <summary>The blob service's port.</summary>
    public int Port { get; }

    public int TablePort { get; }

    public string Host { get; }

    /// <summary>Time from process start until the blob port accepted a connection.</summary>
    public TimeSpan StartupTime { get; }

    public string BlobEndpoint => $"http://{Host}:{Port}/devstoreaccount1";

    public string TableEndpoint => $"http://{Host}:{TablePort}/devstoreaccount1";

    /// <summary>Blob and table endpoints: sessions (blob) and cluster membership (table) in one string.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};BlobEndpoint={BlobEndpoint};TableEndpoint={TableEndpoint};";

    /// <summary>A container name no other test uses (valid: lowercase, digits, hyphens).</summary>
    public static string NewContainerName(string prefix = "test") => $"{prefix}-{Guid.NewGuid():N}";

    public void Dispose() => Stop();

    private void Stop()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        try { Directory.Delete(_workDir, recursive: true); }
        catch (IOException) { }   // best effort: it is a temporary folder
    }

    private void WaitUntilListening(Stopwatch stopwatch)
    {
        while (stopwatch.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"Azurite exited with code {_process.ExitCode} before listening on port {Port}:\n{Output()}");
            try
            {
                using var probe = new TcpClient();
                probe.Connect(IPAddress.Parse(Host), Port);
                using var tableProbe = new TcpClient();
                tableProbe.Connect(IPAddress.Parse(Host), TablePort);
                return;
            }
            catch (SocketException)
            {
                Thread.Sleep(50);
            }
        }
        throw new TimeoutException($"Azurite did not listen on ports {Port} and {TablePort} within {StartTimeout.TotalSeconds} s:\n{Output()}");
    }

    private string Output()
    {
        lock (_output) return _output.ToString();
    }

    /// <summary>
    /// Free ports, all different: the listeners are held open together while the ports are read (one port asked for, let
    /// go and asked for again can come back the same: the soak's Azurite once got its blob and table ports equal).
    /// </summary>
    private static int[] FreeLoopbackPorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var l in listeners) l.Start();
            return listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "tests", "azurite", "package.json")))
                return dir.FullName;
        throw new InvalidOperationException($"No tests/azurite/package.json above {AppContext.BaseDirectory}.");
    }
}
