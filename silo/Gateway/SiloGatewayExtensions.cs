using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Security;

namespace SpecEdge.Silo.Gateway;

/// <summary>
/// Serves the edge gateway on its own Kestrel endpoint (<c>Gateway:Port</c>), HTTP/2 only, with the limits set there and
/// in gRPC: message size, streams per connection, keep-alive. With TLS configured the endpoint requires a client
/// certificate that chains to the edge CA (or the cluster CA) and is not revoked, checked in the handshake.
/// </summary>
public static class SiloGatewayExtensions
{
    /// <summary>Registers the gateway if <c>Gateway:Port</c> is set; returns its options (Port 0: off).</summary>
    public static GatewayOptions AddSpecEdgeGateway(this WebApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(GatewayOptions.Section).Get<GatewayOptions>() ?? new GatewayOptions();
        if (options.Port <= 0) return options;
        if (options.Port > 65535) throw new ArgumentException($"Gateway:Port must be 1-65535; got {options.Port}.");
        if (options.MaxMessageBytes <= 0) throw new ArgumentException($"Gateway:MaxMessageBytes must be positive; got {options.MaxMessageBytes}.");
        var tls = builder.Configuration.GetSection(SiloTlsOptions.Section).Get<SiloTlsOptions>() ?? new SiloTlsOptions();
        var listen = IPAddress.Parse(options.ListenAddress);
        builder.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = options.MaxMessageBytes;
            o.MaxSendMessageSize = options.MaxMessageBytes;
            o.EnableDetailedErrors = false;
        });
        // An explicit Kestrel endpoint replaces the `urls` ones, so those are listened on here too.
        var urls = KestrelUrls(builder.Configuration);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            foreach (var url in urls) ListenUrl(kestrel, url);
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection;
            kestrel.Limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(options.KeepAlivePingSeconds);
            kestrel.Limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(Math.Max(5, options.KeepAlivePingSeconds));
            kestrel.Listen(listen, options.Port, endpoint =>
            {
                endpoint.Protocols = HttpProtocols.Http2;
                if (string.IsNullOrWhiteSpace(tls.CertificateFile)) return;   // plaintext HTTP/2: development only (logged at start)
                var certificate = CertificateTrust.Load(tls.CertificateFile);
                var authorities = new[] { tls.EdgeCaFile, tls.ClusterCaFile }.Where(f => !string.IsNullOrWhiteSpace(f)).Select(f => CertificateTrust.Load(f!)).ToArray();
                var revoked = new RevocationList(tls.RevocationFile);
                endpoint.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificate,
                    ClientCertificateMode = ClientCertificateMode.RequireCertificate,
                    ClientCertificateValidation = (client, _, _) =>
                        authorities.Any(ca => CertificateTrust.IsIssuedBy(client, ca)) && !revoked.IsRevoked(client),
                });
            });
        });
        return options;
    }

    public static WebApplication MapSpecEdgeGateway(this WebApplication app, GatewayOptions options)
    {
        if (options.Port > 0) app.MapGrpcService<EdgeGatewayService>();
        return app;
    }

    private static string[] KestrelUrls(IConfiguration configuration) =>
        (configuration["urls"] is { Length: > 0 } urls ? urls : SiloHttpExtensions.DefaultUrl)
            .Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static void ListenUrl(KestrelServerOptions kestrel, string url)
    {
        var uri = new Uri(url.Replace("://+", "://0.0.0.0").Replace("://*", "://0.0.0.0"));
        if (uri.Scheme != Uri.UriSchemeHttp) throw new ArgumentException($"urls: only http:// addresses are supported beside the gateway; got '{url}'.");
        if (uri.Host == "localhost") kestrel.ListenLocalhost(uri.Port);
        else kestrel.Listen(IPAddress.Parse(uri.Host), uri.Port);
    }
}
