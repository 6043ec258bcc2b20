using System.Net;
using System.Net.Sockets;

namespace SpecEdge.TestSupport;

/// <summary>
/// Connections from another loopback address (any 127.x.y.z is this machine): a caller that looks like another
/// machine to the silo, so per-address limits can be tried, or spent by an attacker, without touching other callers.
/// </summary>
public static class LoopbackAlias
{
    /// <summary>A handler whose connections come from <paramref name="address"/>; add TLS options as needed.</summary>
    public static SocketsHttpHandler Handler(string address) => new()
    {
        ConnectCallback = async (context, cancellation) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(new IPEndPoint(IPAddress.Parse(address), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellation);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        },
    };

    /// <summary>An HTTP client whose connections come from <paramref name="address"/>.</summary>
    public static HttpClient Http(string address) => new(Handler(address)) { Timeout = TimeSpan.FromMinutes(1) };
}
