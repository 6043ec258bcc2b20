using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;

namespace SpecEdge.Benchmarks.E2e;

/// <summary>
/// An emulated WAN link in user space (netem is not available here): a loopback TCP proxy in front of a silo's gateway
/// that holds every chunk of bytes for <see cref="OneWayDelay"/> in each direction before passing it on, in order.
/// Each direction of each connection has a reader (stamps chunks as they arrive) and a writer (sends each chunk once its
/// time has come), so the delay adds latency without limiting throughput. Counts the bytes each way and the delay it
/// actually added (timers here are coarse: the mean overshoot is reported, not assumed).
/// Orleans clients address a gateway by the endpoint they were given, so the silo must advertise the proxy's port as its
/// gateway port and bind another (<c>Cluster:GatewayListenPort</c>).
/// </summary>
public sealed class DelayingTcpProxy : IDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private long _bytesUp, _bytesDown, _chunks, _addedTicks;

    /// <summary>Delay added to each direction (half the emulated round trip); may change between measurements.</summary>
    public TimeSpan OneWayDelay { get; set; }
    public int Port { get; }
    /// <summary>Bytes from clients to the gateway, and back, since the last <see cref="ResetCounters"/>.</summary>
    public long BytesUp => Interlocked.Read(ref _bytesUp);
    public long BytesDown => Interlocked.Read(ref _bytesDown);
    /// <summary>Mean delay actually added per chunk (ms) since the last reset.</summary>
    public double MeanAddedMs => Interlocked.Read(ref _chunks) == 0 ? 0 : TimeSpan.FromTicks(Interlocked.Read(ref _addedTicks) / Interlocked.Read(ref _chunks)).TotalMilliseconds;

    /// <param name="listenPort">Loopback port to listen on (0: any free one).</param>
    public DelayingTcpProxy(int listenPort, int targetPort)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        _listener = new TcpListener(IPAddress.Loopback, listenPort);
        _listener.Start();
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _ = AcceptAsync();
    }

    public void ResetCounters()
    {
        Interlocked.Exchange(ref _bytesUp, 0);
        Interlocked.Exchange(ref _bytesDown, 0);
        Interlocked.Exchange(ref _chunks, 0);
        Interlocked.Exchange(ref _addedTicks, 0);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket inbound;
            try { inbound = await _listener.AcceptSocketAsync(_stop.Token); }
            catch (Exception) { return; }
            _ = ConnectAsync(inbound);
        }
    }

    private async Task ConnectAsync(Socket inbound)
    {
        var outbound = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        inbound.NoDelay = true;
        try { await outbound.ConnectAsync(_target, _stop.Token); }
        catch (Exception) { inbound.Dispose(); outbound.Dispose(); return; }
        // When either direction ends, both sockets close: the peers see the connection drop, as on a real link.
        var up = PumpAsync(inbound, outbound, upstream: true);
        var down = PumpAsync(outbound, inbound, upstream: false);
        await Task.WhenAny(up, down);
        inbound.Dispose();
        outbound.Dispose();
    }

    private async Task PumpAsync(Socket from, Socket to, bool upstream)
    {
        var chunks = Channel.CreateUnbounded<(byte[] Data, long Due)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var writer = Task.Run(async () =>
        {
            try
            {
                await foreach (var (data, due) in chunks.Reader.ReadAllAsync(_stop.Token))
                {
                    // Timers follow a coarse clock here and may fire early: wait until the due time has really passed.
                    for (long wait; (wait = due - Stopwatch.GetTimestamp()) > 0;)
                        await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency + 0.0005), _stop.Token);
                    long late = Stopwatch.GetTimestamp() - due;
                    Interlocked.Add(ref _addedTicks, TimeSpan.FromSeconds((double)late / Stopwatch.Frequency).Ticks + OneWayDelay.Ticks);
                    Interlocked.Increment(ref _chunks);
                    for (int sent = 0; sent < data.Length;) sent += await to.SendAsync(data.AsMemory(sent), SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception) { }
        });
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                int n = await from.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (n == 0) break;
                if (upstream) Interlocked.Add(ref _bytesUp, n); else Interlocked.Add(ref _bytesDown, n);
                long due = Stopwatch.GetTimestamp() + (long)(OneWayDelay.TotalSeconds * Stopwatch.Frequency);
                chunks.Writer.TryWrite((buffer[..n], due));
            }
        }
        catch (Exception) { }
        chunks.Writer.TryComplete();
        await writer;
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
