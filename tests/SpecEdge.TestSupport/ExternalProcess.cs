using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SpecEdge.TestSupport;

/// <summary>A child process for process-level tests (redis-server, silos): output captured, killed on dispose.</summary>
public sealed class ExternalProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public string Name { get; }
    public string Output { get { lock (_output) return _output.ToString(); } }
    public bool HasExited => _process.HasExited;
    public int ProcessId => _process.Id;
    /// <summary>The exit code once it has exited.</summary>
    public int ExitCode => _process.ExitCode;

    /// <param name="onLine">Sees every line of standard output as it arrives (e.g. a child reporting results).</param>
    public ExternalProcess(string name, string fileName, IEnumerable<string> arguments, string workingDirectory, Action<string>? onLine = null)
    {
        Name = name;
        var start = new ProcessStartInfo(fileName) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        _process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) onLine?.Invoke(e.Data);
            lock (_output) _output.AppendLine(e.Data);
        };
        _process.ErrorDataReceived += (_, e) => { lock (_output) _output.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>Waits until <paramref name="port"/> on loopback accepts connections; fails with the process output otherwise.</summary>
    public async Task WaitForPortAsync(int port, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}:\n{Output}");
            try
            {
                using var socket = new TcpClient();
                await socket.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) { await Task.Delay(200); }
        }
        throw new TimeoutException($"{Name} did not open port {port} within {timeout.TotalSeconds:F0}s:\n{Output}");
    }

    /// <summary>Waits for the process to exit by itself; false if it is still running after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try { await _process.WaitForExitAsync(cancel.Token); return true; }
        catch (OperationCanceledException) { return false; }
    }

    /// <summary>Kills the process outright (no shutdown hooks): a crash, as far as the cluster can tell.</summary>
    public void Kill()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public void Dispose()
    {
        try { Kill(); } catch (InvalidOperationException) { }
        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
