using System.Net.Http.Json;
using System.Text.Json;
using SpecEdge.Contracts.Security;

namespace SpecEdge.EdgeClient;

/// <summary>
/// A tenant's service enrolling edges through a silo's HTTP API (<c>POST /v1/edges</c>), as a backend enrolling gamer
/// PCs does: no Orleans connection. Tries each silo in turn, so one silo down does not stop enrolment; a refusal
/// (4xx) is final and names the problem in the API's words.
/// </summary>
/// <param name="handler">How to connect (tests: from another address); default: a plain handler.</param>
public sealed class HttpEdgeEnrolment(IReadOnlyList<Uri> apis, string serviceKey, HttpMessageHandler? handler = null) : IDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly HttpClient _http = new(handler ?? new HttpClientHandler()) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Parses <c>Edge:EnrolUrls</c>: one base address or several, comma-separated (<c>http://host:port</c>).</summary>
    public static Uri[] ParseAddresses(string addresses) =>
        addresses.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(a => new Uri(a)).ToArray();

    /// <summary>An edge credential for <paramref name="conversationId"/> (of the service's tenant), named <paramref name="edgeId"/>.</summary>
    public async Task<string> IssueAsync(string conversationId, string edgeId, bool chat, TimeSpan lifetime, CancellationToken cancellation = default)
    {
        if (apis.Count == 0) throw new InvalidOperationException("No HTTP API address to enrol edges at (Edge:EnrolUrls).");
        Exception? last = null;
        foreach (var api in apis)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(api, "/v1/edges"))
            {
                Content = JsonContent.Create(new EdgeEnrolmentRequest(conversationId, edgeId, chat, (int)lifetime.TotalSeconds), options: Json),
            };
            request.Headers.Authorization = new("Bearer", serviceKey);
            try
            {
                using var response = await _http.SendAsync(request, cancellation);
                if (response.IsSuccessStatusCode)
                    return (await response.Content.ReadFromJsonAsync<EdgeEnrolmentResponse>(Json, cancellation))!.Credential;
                string body = await response.Content.ReadAsStringAsync(cancellation);
                var refusal = new EdgeEnrolmentRefusedException((int)response.StatusCode, $"Enrolling edge '{edgeId}' for {conversationId} at {api} was refused ({(int)response.StatusCode}): {body}");
                if ((int)response.StatusCode is >= 400 and < 500 and not 429) throw refusal;
                last = refusal;
            }
            catch (HttpRequestException e) { last = e; }
            catch (TaskCanceledException e) when (!cancellation.IsCancellationRequested) { last = e; }
        }
        throw new InvalidOperationException($"No silo enrolled edge '{edgeId}' for {conversationId}: {last?.Message}", last);
    }

    /// <summary>The model ids the silos serve (<c>GET /v1/models</c>), from the first silo that answers.</summary>
    public async Task<string[]> ModelsAsync(CancellationToken cancellation = default)
    {
        Exception? last = null;
        foreach (var api in apis)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(api, "/v1/models"));
            request.Headers.Authorization = new("Bearer", serviceKey);
            try
            {
                using var response = await _http.SendAsync(request, cancellation);
                response.EnsureSuccessStatusCode();
                using var json = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(cancellation), cancellationToken: cancellation);
                return json.RootElement.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).ToArray();
            }
            catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException or InvalidOperationException
                                          or TaskCanceledException && !cancellation.IsCancellationRequested) { last = e; }
        }
        throw new InvalidOperationException($"No silo listed its models: {last?.Message}", last);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>A silo answered an enrolment with an error status (<see cref="Status"/>): the body names the problem.</summary>
public sealed class EdgeEnrolmentRefusedException(int status, string message) : InvalidOperationException(message)
{
    public int Status { get; } = status;
}
