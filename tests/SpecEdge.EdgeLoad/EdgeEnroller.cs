using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.EdgeHost;

namespace SpecEdge.EdgeLoad;

/// <summary>
/// How the bench and soak modes, which hold a tenant's service credential, enrol one edge per conversation: over the
/// silos' HTTP API when <see cref="EdgeHostOptions.EnrolUrls"/> is set (the process then has no Orleans connection), or
/// through <see cref="ICredentialIssuerGrain"/> on its Orleans connection (an operator-run process).
/// </summary>
public sealed class EdgeEnroller : IDisposable
{
    private readonly HttpEdgeEnrolment? _http;
    private readonly IClusterClient? _orleans;

    public EdgeEnroller(IServiceProvider services, IOptions<EdgeHostOptions> options, IOptions<ClientCredentialOptions> credential)
    {
        if (options.Value.EnrolUrls is { Length: > 0 } urls)
        {
            string? key = credential.Value.ReadToken();
            if (string.IsNullOrWhiteSpace(key))
                throw new InvalidOperationException("Enrolling edges over HTTP (Edge:EnrolUrls) needs the service credential (Credential:TokenFile / --credential-file).");
            _http = new HttpEdgeEnrolment(HttpEdgeEnrolment.ParseAddresses(urls), key);
        }
        else _orleans = services.GetService<IClusterClient>()
            ?? throw new InvalidOperationException("Enrolling edges needs Edge:EnrolUrls (the silos' HTTP API) or an Orleans connection.");
    }

    /// <summary>The Orleans client when this process has one (operator-run edges, server-decoded bench replies).</summary>
    public IClusterClient? Orleans => _orleans;

    public Task<string> IssueAsync(string conversationId, string edgeId, bool chat, TimeSpan lifetime, CancellationToken cancellation = default) =>
        _http is not null
            ? _http.IssueAsync(conversationId, edgeId, chat, lifetime, cancellation)
            : _orleans!.GetGrain<ICredentialIssuerGrain>(0).IssueEdgeCredentialAsync(conversationId, edgeId, chat, lifetime);

    public void Dispose() => _http?.Dispose();
}
