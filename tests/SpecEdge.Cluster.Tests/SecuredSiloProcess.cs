using SpecEdge.Contracts.Security;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// One silo executable with the demo target and a fresh signing key (no TLS), on free ports: for tests of what a silo
/// process serves on its HTTP port. <see cref="Sign"/> mints credentials of any role with its key.
/// </summary>
public sealed class SecuredSiloProcess : IDisposable
{
    private readonly ExternalProcess _process;
    private readonly SigningKeySet _keys = SigningKeySet.CreateRandom("k1");
    public int GatewayPort { get; } = ExternalProcess.FreePort();
    public int HttpPort { get; } = ExternalProcess.FreePort();
    public string ClusterId { get; }

    public SecuredSiloProcess(string name, params string[] extraArgs)
    {
        string root = ClusterFixture.RepoRoot();
        string configuration = AppContext.BaseDirectory.Contains("/Release/") ? "Release" : "Debug";
        string siloExe = Path.Combine(root, "silo", "bin", configuration, "net10.0", "linux-x64", "SpecEdge.Silo");
        string dir = Directory.CreateTempSubdirectory($"specedge-{name}-").FullName;
        string keyFile = Path.Combine(dir, "keys.json");
        File.WriteAllText(keyFile, "{\"activeKeyId\": \"k1\", \"keys\": {\"k1\": \"" + Convert.ToBase64String(_keys.ActiveKey) + "\"}}");
        ClusterId = name + "-test";
        _process = new ExternalProcess(name, siloExe, new[]
        {
            "--urls", $"http://127.0.0.1:{HttpPort}", "--SpecEdge:TargetModel", Path.Combine(root, "models", "demo", "target"), "--SpecEdge:Threads", "1",
            "--Cluster:SiloName", name, "--Cluster:SiloPort", ExternalProcess.FreePort().ToString(), "--Cluster:GatewayPort", GatewayPort.ToString(),
            "--Cluster:ClusterId", ClusterId, "--Cluster:ServiceId", ClusterId, "--Security:KeyFile", keyFile,
        }.Concat(extraArgs), root);
    }

    /// <summary>Waits for the gateway, then for Kestrel (which starts after the silo and the models).</summary>
    public async Task WaitReadyAsync()
    {
        await _process.WaitForPortAsync(GatewayPort, TimeSpan.FromSeconds(120));
        await _process.WaitForPortAsync(HttpPort, TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits until <paramref name="port"/> (e.g. the edge gateway's) accepts connections.</summary>
    public Task WaitForPortAsync(int port) => _process.WaitForPortAsync(port, TimeSpan.FromSeconds(30));

    /// <summary>A credential of <paramref name="role"/> for tenant "t" (conversation "t/x", edge "edge-1"), valid for an hour.</summary>
    public string Sign(CredentialRole role, string conversationId = "t/x") => CredentialCodec.Sign(new AccessCredential
    {
        Role = role, Tenant = "t", ConversationId = conversationId, EdgeId = "edge-1", Chat = true,
        ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
    }, _keys);

    public void Dispose() => _process.Dispose();
}
