using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Sessions;
using SpecEdge.Inference.Speculative;
using Xunit;

namespace SpecEdge.Cluster.Tests.OpenAi;

/// <summary>
/// A real silo process (the silo executable with the demo target model, a random signing key) serving the OpenAI API on
/// a free loopback port, an operator Orleans client for reading what sessions committed, and an in-process copy of the
/// target for reference decoding: what every reply must equal, token for token.
/// </summary>
public sealed class OpenAiSiloFixture : IAsyncLifetime
{
    /// <summary>The one origin allowed to call the API from a browser (OpenAi:CorsOrigins).</summary>
    public const string CorsOrigin = "https://app.example";

    public const string Model = "target";

    /// <summary>The system prompt the silo declares public (SpecEdge:PublicPrefixes): its prefix blocks are shared across tenants.</summary>
    public const string PublicSystemPrompt = "You are the public help desk of the city library. Answer questions about opening hours, "
        + "membership, loans and the reading rooms. Keep every answer short, polite and plain, and never invent a rule.";
    private ExternalProcess? _silo;
    private IHost? _client;
    private string _dir = "";

    public string BaseUrl { get; private set; } = "";
    public int GatewayPort { get; private set; }
    /// <summary>The silo's edge gateway (gRPC, plaintext HTTP/2 here: this fixture runs without TLS).</summary>
    public Uri EdgeGateway { get; private set; } = null!;
    public const string ClusterId = "openai-test";
    public SigningKeySet Keys { get; } = SigningKeySet.CreateRandom("k1");
    public ModelHost Models { get; private set; } = null!;
    public IClusterClient Client => _client!.Services.GetRequiredService<IClusterClient>();
    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromMinutes(3) };
    public string SiloOutput => _silo?.Output ?? "";

    public string EdgeKey(string conversationId, string edgeId) =>
        Issue(new AccessCredential { Role = CredentialRole.Edge, Tenant = conversationId.Split('/')[0], ConversationId = conversationId, EdgeId = edgeId });

    public string ServiceKey(string tenant) => Issue(new AccessCredential { Role = CredentialRole.Service, Tenant = tenant });

    public string Issue(AccessCredential claims, TimeSpan? lifetime = null) =>
        CredentialCodec.Sign(claims with { ExpiresAt = DateTimeOffset.UtcNow.Add(lifetime ?? TimeSpan.FromHours(2)).ToUnixTimeSeconds() }, Keys);

    public async Task InitializeAsync()
    {
        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string siloExe = Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo");
        string target = Path.Combine(root, "models", "demo", "target");
        _dir = Directory.CreateTempSubdirectory("specedge-openai-").FullName;
        string keyFile = Path.Combine(_dir, "keys.json");
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(Keys.ActiveKey) + "\"}}");

        int siloPort = ExternalProcess.FreePort(), gatewayPort = ExternalProcess.FreePort(), httpPort = ExternalProcess.FreePort(), edgeGatewayPort = ExternalProcess.FreePort();
        EdgeGateway = new Uri($"http://127.0.0.1:{edgeGatewayPort}");
        BaseUrl = $"http://127.0.0.1:{httpPort}";
        GatewayPort = gatewayPort;
        _silo = new ExternalProcess("silo-openai", siloExe, new[]
        {
            "--SpecEdge:TargetModel", target, "--SpecEdge:Threads", "1",
            "--Cluster:SiloName", "silo-openai", "--Cluster:SiloPort", siloPort.ToString(), "--Cluster:GatewayPort", gatewayPort.ToString(),
            "--Cluster:ClusterId", ClusterId, "--Cluster:ServiceId", ClusterId,
            "--Security:KeyFile", keyFile, "--urls", BaseUrl,
            // Low enough for a flood test to cross it quickly; no other test sends more than a few requests per key.
            "--OpenAi:MaxRequestsPerSecondPerKey", "10",
            // One browser app may call the API from its pages (CORS); others may not.
            "--OpenAi:CorsOrigins:0", CorsOrigin,
            "--Gateway:Port", edgeGatewayPort.ToString(),
            "--SpecEdge:PublicPrefixes:0", PublicSystemPrompt,
            // Early verdicts from the demo target's exit head: every edge test here then also checks they change no reply.
            "--SpecEdge:EarlyVerdicts", "true",
            // Short hand-back runs: on this CPU the server decodes faster than the demo edge's loop, and runs of the default
            // 64 finish a reply in two edge steps. The gateway tests need several (a stream dropped at the third, early
            // verdicts to draft ahead on), and their replies still mix edge steps with server runs over the gateway.
            "--SpecEdge:HandBackSteps", "4",
        }, root);
        await _silo.WaitForPortAsync(httpPort, TimeSpan.FromSeconds(120));
        await _silo.WaitForPortAsync(edgeGatewayPort, TimeSpan.FromSeconds(30));

        string operatorToken = Issue(new AccessCredential { Role = CredentialRole.Operator });
        var builder = Host.CreateApplicationBuilder();
        builder.UseOrleansClient(c =>
        {
            c.Configure<Orleans.Configuration.ClusterOptions>(o => { o.ClusterId = ClusterId; o.ServiceId = ClusterId; });
            c.UseStaticClustering(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, gatewayPort));
            c.AddSpecEdgeCredential(o => o.Token = operatorToken);
        });
        _client = builder.Build();
        await _client.StartAsync();

        Models = new ModelHost(Options.Create(new SpecEdgeSiloOptions { TargetModel = target, Threads = 1, MaxContextTokens = 2048 }), NullLogger<ModelHost>.Instance);
    }

    public async Task DisposeAsync()
    {
        if (_client is not null) { await _client.StopAsync(); _client.Dispose(); }
        _silo?.Dispose();
        Models?.Dispose();
        Http.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    /// <summary>The prompt tokens a new session encodes for <paramref name="text"/> after <paramref name="history"/> (what the silo does).</summary>
    public int[] NewConversationPrompt(GenerationSettings settings, IReadOnlyList<ChatTurn> history, string text, string role = "user") =>
        history.Count > 0 ? TurnFormatter.ConversationTokens(Models.Tokenizer, Models.ChatFormat, settings, history, text, role)
            : TurnFormatter.Tokens(Models.Tokenizer, Models.ChatFormat, Array.Empty<int>(), settings, text, role);

    /// <summary>The tokens a continued session appends for the next user message.</summary>
    public int[] NextTurn(IReadOnlyList<int> committed, GenerationSettings settings, string text) =>
        TurnFormatter.Tokens(Models.Tokenizer, Models.ChatFormat, committed, settings, text);

    /// <summary>Target-only decoding in this process, under the silo's stop rules: the reply every path must equal.</summary>
    public int[] ReferenceReply(int[] prompt, GenerationSettings settings)
    {
        if (settings.Seed is null) throw new ArgumentException("A reference sample needs a seed (any one at temperature 0).");
        var sampling = Grains.Verification.VerifierBoundary.Sampling(settings);
        lock (Models)
        {
            var request = new GenerationRequest(prompt, sampling, Models.StopCriteria(settings.MaxNewTokens, settings.StopStrings));
            return AutoregressiveDecoder.Generate(ReferenceVerifier(), new[] { request }, capacity: Models.Options.MaxContextTokens)[0].Tokens;
        }
    }

    /// <summary>Target-only decoding's log probabilities for <see cref="ReferenceReply"/>'s tokens (with <paramref name="top"/> alternatives).</summary>
    public IReadOnlyList<SpecEdge.Protocol.TokenLogprob> ReferenceLogprobs(int[] prompt, GenerationSettings settings, int top)
    {
        var sampling = Grains.Verification.VerifierBoundary.Sampling(settings with { Seed = settings.Seed ?? 0, Logprobs = top });
        lock (Models)
        {
            var request = new GenerationRequest(prompt, sampling, Models.StopCriteria(settings.MaxNewTokens, settings.StopStrings));
            return AutoregressiveDecoder.Generate(ReferenceVerifier(), new[] { request }, capacity: Models.Options.MaxContextTokens)[0].Logprobs;
        }
    }

    /// <summary>Target-only decoding on the silo's own target, with its vocabulary for JSON replies.</summary>
    private TargetVerifier ReferenceVerifier() => new(Models.Target(0)) { Masker = new Inference.Constraints.TokenMasker(Models.Vocabulary) };

    public string Decode(IEnumerable<int> tokens) => Models.Tokenizer.Decode(tokens, skipSpecialTokens: true);

    /// <summary>The tokens the session committed for its last reply, read from its reply stream as an operator.</summary>
    public async Task<int[]> SessionReplyTokensAsync(string sessionId)
    {
        var tokens = new List<int>();
        await foreach (var chunk in Client.GetGrain<ISessionGrain>(sessionId).StreamReplyAsync()) tokens.AddRange(chunk.Tokens);
        return tokens.ToArray();
    }

    /// <summary>POSTs <paramref name="body"/> with <paramref name="apiKey"/> (none if null); returns status, JSON body and the session header.</summary>
    public async Task<(int Status, JsonNode? Body, string? Session)> PostAsync(string path, object body, string? apiKey, string? sessionHeader = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + path)
        {
            Content = new StringContent(body as string ?? JsonSerializer.Serialize(body), Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        if (sessionHeader is not null) request.Headers.Add("X-SpecEdge-Session", sessionHeader);
        using var response = await Http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        string? session = response.Headers.TryGetValues("X-SpecEdge-Session", out var values) ? values.First() : null;
        return ((int)response.StatusCode, text.Length > 0 && !text.StartsWith("data:") ? JsonNode.Parse(text) : JsonValue.Create(text), session);
    }
}

[CollectionDefinition(Name)]
public sealed class OpenAiCollection : ICollectionFixture<OpenAiSiloFixture>
{
    public const string Name = "openai";
}
