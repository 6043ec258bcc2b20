using System.Diagnostics;
using SpecEdge.Contracts.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>infra/local signs edge credentials in bash (openssl); the silo must accept exactly what it writes.</summary>
[Trait("Kind", "process")]
public class DevelopmentCredentialScriptTests
{
    [Fact]
    public void ScriptIssuedEdgeCredential_VerifiesWithTheCodec_AndATamperedCopyDoesNot()
    {
        string state = Path.Combine(Path.GetTempPath(), "specedge-script-" + Guid.NewGuid().ToString("N")[..8]);
        string common = Path.Combine(ClusterFixture.RepoRoot(), "infra", "local", "common.sh");
        var start = new ProcessStartInfo("bash", new[] { "-c",
            $"source '{common}' && STATE='{state}' && SECURITY='{state}/security' && ensure_signing_key 2>/dev/null && edge_credential local/chat-1 edge-7" })
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var bash = Process.Start(start)!;
        string file = bash.StandardOutput.ReadToEnd().Trim();
        bash.WaitForExit();
        Assert.True(bash.ExitCode == 0, bash.StandardError.ReadToEnd());

        var keys = SigningKeySet.Load(Path.Combine(state, "security", "keys.json"));
        string token = File.ReadAllText(file).Trim();
        Assert.True(CredentialCodec.TryVerify(token, keys, DateTimeOffset.UtcNow, out var credential, out var error), error);
        Assert.Equal(CredentialRole.Edge, credential!.Role);
        Assert.Equal("local/chat-1", credential.ConversationId);
        Assert.Equal("edge-7", credential.EdgeId);
        Assert.True(credential.Chat);
        Assert.InRange(credential.Expiry, DateTimeOffset.UtcNow.AddHours(11), DateTimeOffset.UtcNow.AddHours(13));

        string tampered = token[..5] + (token[5] == 'A' ? 'B' : 'A') + token[6..];   // one payload character changed
        Assert.False(CredentialCodec.TryVerify(tampered, keys, DateTimeOffset.UtcNow, out _, out _));
        Directory.Delete(state, recursive: true);
    }
}
