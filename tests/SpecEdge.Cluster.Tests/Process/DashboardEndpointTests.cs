using System.Net;
using System.Net.Http.Headers;
using System.Text;
using SpecEdge.Contracts.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// The Orleans Dashboard on a silo process (Dashboard:Enabled): refused without a credential (asking the browser for
/// one), refused to a service or an edge, served to an operator, and its data calls (which query grains inside the
/// silo) answer.
/// </summary>
[Trait("Kind", "process")]
public sealed class DashboardEndpointTests
{
    [Fact]
    public async Task Dashboard_IsForOperatorsOnly_AndItsDataCallsAnswer()
    {
        using var silo = new SecuredSiloProcess("silo-dashboard", "--Dashboard:Enabled", "true");
        await silo.WaitReadyAsync();
        string Sign(CredentialRole role) => silo.Sign(role);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.HttpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        async Task<HttpResponseMessage> GetAsync(string path, string? basicPassword)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            if (basicPassword is not null)
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("operator:" + basicPassword)));
            return await http.SendAsync(request);
        }

        var anonymous = await GetAsync("/dashboard/", null);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Contains("Basic", anonymous.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetAsync("/dashboard/", "forged")).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync("/dashboard/", Sign(CredentialRole.Service))).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await GetAsync("/dashboard/ClusterStats", Sign(CredentialRole.Edge))).StatusCode);

        string operatorToken = Sign(CredentialRole.Operator);
        var page = await GetAsync("/dashboard/", operatorToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("<html", await page.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        // Data calls go to the dashboard's grains inside the silo (which collect from the management grain every second),
        // through the silo's own call policy: the silo itself must show up.
        string body = "";
        for (int attempt = 0; attempt < 40 && !body.Contains("\"totalActiveHostCount\":1", StringComparison.OrdinalIgnoreCase); attempt++)
        {
            if (attempt > 0) await Task.Delay(500);
            var counters = await GetAsync("/dashboard/DashboardCounters", operatorToken);
            Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
            body = await counters.Content.ReadAsStringAsync();
        }
        Assert.True(body.Contains("\"totalActiveHostCount\":1", StringComparison.OrdinalIgnoreCase), $"dashboard counters: {body[..Math.Min(600, body.Length)]}");
    }
}
