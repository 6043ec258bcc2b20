using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Orleans.Runtime;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.EdgeClient;
using SpecEdge.Gateway.V1;
using SpecEdge.Inference.Model;
using SpecEdge.Inference.Speculative;
using Xunit;
using Xunit.Abstractions;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// A tenant's service enrols edges over the silo's HTTP API (<c>POST /v1/edges</c>), and the edge drafts over the
/// edge gateway: no party of the pair holds an Orleans connection. Refused requests on both untrusted entries (the
/// gateway and HTTP) touch no grain: the conversations they name are never activated.
/// </summary>
[Collection(OpenAiCollection.Name)]
[Trait("Kind", "process")]
public sealed class EdgeEnrolmentTests(OpenAiSiloFixture f, ITestOutputHelper output) : IDisposable
{
    private readonly CausalLm _draft = CausalLm.Load(Path.Combine(ClusterFixture.RepoRoot(), "models", "demo", "draft"));

    public void Dispose() => _draft.Dispose();

    private Task<(int Status, JsonNode? Body, string? Session)> EnrolAsync(string? key, object body) => f.PostAsync("/v1/edges", body, key);

    [Fact]
    public async Task AServiceEnrolsAnEdgeOverHttp_WhichChatsAndDraftsTheGreedyReplyOverTheGateway()
    {
        const string id = "enrol/chat-1";
        var (status, body, _) = await EnrolAsync(f.ServiceKey("enrol"), new { conversation = id, edge_id = "pc-1", chat = true, lifetime_seconds = 600 });
        Assert.True(status == 200, $"enrolment answered {status}: {body}");
        Assert.Equal(id, (string?)body!["conversation"]);
        string credential = (string)body["credential"]!;
        var claims = CredentialCodec.ReadUnverified(credential)!;
        Assert.Equal((CredentialRole.Edge, id, "pc-1", true), (claims.Role, claims.ConversationId, claims.EdgeId, claims.Chat));
        Assert.InRange(claims.Expiry - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(11));

        await using var link = new GatewayEdgeLink(f.EdgeGateway, credential, id);
        using var edge = new EdgeSession(link, _draft, id, "pc-1", new DraftTreeOptions { Budget = 8, Proactive = true }, capacity: 2048);
        await edge.AttachAsync();
        var settings = new GenerationSettings { Temperature = 0, Seed = 0, MaxNewTokens = 24, UseChatTemplate = false };
        var turn = await edge.BeginTurnAsync(new TurnRequest { Text = SessionTestHelpers.Prompts[3], Settings = settings });
        var stats = await edge.RunReplyAsync();
        Assert.Equal(f.ReferenceReply(turn.AppendedTokens, settings), await f.SessionReplyTokensAsync(id));
        output.WriteLine($"enrolled over HTTP, {stats.Steps} steps over the gateway");
    }

    [Fact]
    public async Task EnrolmentIsRefusedByName_ForOtherTenants_OddIds_BadEdgeIds_AndNonServiceKeys()
    {
        string service = f.ServiceKey("enrol");
        var cases = new (string What, string? Key, object Body, int Status, string Param)[]
        {
            ("another tenant's conversation", service, new { conversation = "victim/chat", edge_id = "pc" }, 403, "conversation"),
            ("a traversal into another tenant", service, new { conversation = "enrol/../victim/chat", edge_id = "pc" }, 400, "conversation"),
            ("an encoded traversal", service, new { conversation = "enrol/%2e%2e", edge_id = "pc" }, 400, "conversation"),
            ("no conversation", service, new { edge_id = "pc" }, 400, "conversation"),
            ("an edge id with a space", service, new { conversation = "enrol/x", edge_id = "pc 1" }, 400, "edge_id"),
            ("a negative lifetime", service, new { conversation = "enrol/x", edge_id = "pc", lifetime_seconds = -5 }, 400, "lifetime_seconds"),
            ("an edge credential as the key", f.EdgeKey("enrol/x", "pc"), new { conversation = "enrol/x", edge_id = "pc" }, 401, ""),
            ("no key", null, new { conversation = "enrol/x", edge_id = "pc" }, 401, ""),
        };
        foreach (var (what, key, body, status, param) in cases)
        {
            var (got, answer, _) = await EnrolAsync(key, body);
            output.WriteLine($"{what}: {got} {answer?.ToJsonString()}");
            Assert.True(got == status, $"{what}: expected {status}, got {got}: {answer}");
            Assert.Null(answer?["credential"]);
            if (param.Length > 0) Assert.Equal(param, (string?)answer?["error"]?["param"]);
        }
    }

    [Fact]
    public async Task RefusedRequestsOnTheGatewayAndOverHttp_ActivateNoSession()
    {
        const int each = 15;
        string Never(int i) => $"quiet/never-{i}";
        var management = f.Client.GetGrain<IManagementGrain>(0);
        int before = (await SessionActivationsAsync(management)).Count;

        // The edge gateway: attaches naming a conversation the credential does not name, unverifiable credentials, and
        // messages before any attach. Each stream is answered with a refusal (or refused outright), and nothing else.
        // From an address of its own, as for HTTP below: its failed opens spend its own budget, not the other tests'.
        using var channel = GrpcChannel.ForAddress(f.EdgeGateway, new GrpcChannelOptions { HttpHandler = LoopbackAlias.Handler("127.0.0.5") });
        var gateway = new EdgeGateway.EdgeGatewayClient(channel);
        string forged = CredentialCodec.Sign(new AccessCredential { Role = CredentialRole.Edge, Tenant = "quiet", ConversationId = Never(0), EdgeId = "e",
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds() }, SigningKeySet.CreateRandom("k1"));
        int gatewayRefusals = 0;
        for (int i = 0; i < each; i++)
        {
            foreach (var (token, message) in new[]
            {
                (f.EdgeKey("quiet/own", "e"), new EdgeMessage { Attach = new Attach { ConversationId = Never(i) } }),
                (forged, new EdgeMessage { Attach = new Attach { ConversationId = Never(0) } }),
                ("not-a-credential", new EdgeMessage { Attach = new Attach { ConversationId = Never(i) } }),
                (f.EdgeKey(Never(i), "e"), new EdgeMessage { Tree = new Gateway.V1.Tree { Step = 0, Tokens = { 1, 2 }, Parents = { -1, 0 } } }),
            })
            {
                using var call = gateway.Converse(new Metadata { { "authorization", "Bearer " + token } });
                try
                {
                    await call.RequestStream.WriteAsync(message);
                    Assert.True(await call.ResponseStream.MoveNext().WaitAsync(TimeSpan.FromSeconds(30)), "the stream ended without an answer");
                    Assert.NotNull(call.ResponseStream.Current.Rejection);
                }
                // Refused as unauthenticated, or, once this address has spent its failures, before its credential is read;
                // a refusal that races the client's write surfaces as the stream reset (Cancelled).
                catch (RpcException e) { Assert.True(e.StatusCode is StatusCode.Unauthenticated or StatusCode.ResourceExhausted or StatusCode.Cancelled, $"refused with {e.StatusCode}"); }
                gatewayRefusals++;
            }
        }

        // HTTP, from an address of its own (so the per-address failure limit of the other tests' address is untouched):
        // chats naming another tenant's conversation or an odd id, enrolments for them, and unverifiable keys.
        using var http = LoopbackAlias.Http("127.0.0.4");
        string stranger = f.ServiceKey("stranger");
        string Chat(int max) => JsonSerializer.Serialize(new { model = OpenAiSiloFixture.Model, messages = new[] { new { role = "user", content = "hi" } }, max_tokens = max });
        var statuses = new List<HttpStatusCode>();
        for (int i = 0; i < each; i++)
        {
            statuses.Add((await OpenAiHttpTests.SendAsync(http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", stranger, Chat(4), session: Never(i))).StatusCode);
            statuses.Add((await OpenAiHttpTests.SendAsync(http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", stranger, Chat(4), session: $"stranger/../{Never(i)}")).StatusCode);
            statuses.Add((await OpenAiHttpTests.SendAsync(http, HttpMethod.Post, f.BaseUrl + "/v1/edges", stranger,
                JsonSerializer.Serialize(new { conversation = Never(i), edge_id = "e" }))).StatusCode);
            statuses.Add((await OpenAiHttpTests.SendAsync(http, HttpMethod.Post, f.BaseUrl + "/v1/chat/completions", "sk-guess-" + i, Chat(4), session: Never(i))).StatusCode);
        }
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Forbidden or HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized or HttpStatusCode.TooManyRequests, $"answered {s}"));

        var after = await SessionActivationsAsync(management);
        output.WriteLine($"{gatewayRefusals} gateway refusals, {statuses.Count} HTTP refusals ({string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{(int)g.Key} x{g.Count()}"))}); " +
                         $"session activations {before} before, {after.Count} after");
        Assert.DoesNotContain(after, key => key.StartsWith("quiet/", StringComparison.Ordinal));
        Assert.True(after.Count <= before, $"refused requests activated sessions: {before} before, {after.Count} after");
    }

    /// <summary>The conversation ids of every session activation in the cluster (the operator's view).</summary>
    private static async Task<List<string>> SessionActivationsAsync(IManagementGrain management) =>
        (await management.GetDetailedGrainStatistics())
            .Where(s => s.GrainId.Type.ToString() == "session")
            .Select(s => s.GrainId.Key.ToString()!)
            .ToList();
}
