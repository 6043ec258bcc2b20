using SpecEdge.Contracts;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Persistence;
using SpecEdge.Grains.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// One parse of a conversation id, used at every entry: the odd and hostile ids of the isolation issue (traversal, dot
/// segments, escapes, backslashes, huge ids, Unicode look-alikes) are refused by name, by the parser itself and by the
/// call policy, for services and for edges, and never reach a storage key unescaped.
/// </summary>
[Trait("Kind", "unit")]
public class ConversationIdTests
{
    /// <summary>Every id an attacker tried or might try; each must be refused everywhere.</summary>
    public static readonly TheoryData<string, string> HostileIds = new()
    {
        { "mallory/../local/victim-1", "two segments" },
        { "a/../b", "two segments" },
        { "../b", "'..'" },
        { "a/..", "'..'" },
        { "./x", "'.'" },
        { "a/.", "'.'" },
        { "%2e%2e/victim", "'%'" },
        { "mallory/%2e%2e%2flocal", "'%'" },
        { "a//b", "two segments" },
        { "/b", "tenant is empty" },
        { "a/", "name is empty" },
        { "", "empty" },
        { "solo", "two segments" },
        { "a\\b/c", "'\\'" },
        { "mallory/..\\local\\victim", "'\\'" },
        { "tenant/v\u0456ctim", "U+0456" },      // Cyrillic i
        { "a\uFF0Fb/c", "U+FF0F" },              // fullwidth solidus
        { "a/b\u2024\u2024", "U+2024" },         // one dot leader
        { "a/b\u0000", "U+0000" },
        { "a/b c", "' '" },
        { "a/b\n", "U+000A" },
        { "a/" + new string('x', 65), "65 characters" },
        { new string('t', 65) + "/b", "65 characters" },
    };

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void Parse_RefusesHostileIds_AndSaysWhy(string id, string why)
    {
        Assert.False(ConversationId.TryParse(id, out _, out var error));
        Assert.Contains(why, error);
        var thrown = Assert.Throws<ArgumentException>(() => ConversationId.Parse(id));
        Assert.Contains(why, thrown.Message);
    }

    [Fact]
    public void Parse_RefusesATenKilobyteId_WithoutEchoingIt()
    {
        string huge = "a/" + new string('b', 10_000);
        Assert.False(ConversationId.TryParse(huge, out _, out var error));
        Assert.Contains("10002 characters", error);
        Assert.True(error.Length < 200, $"the error echoes the id: {error.Length} characters");
    }

    [Theory]
    [InlineData("local/chat-1234", "local", "chat-1234")]
    [InlineData("t/a.b_c-D9", "t", "a.b_c-D9")]
    [InlineData("tenant-a/...", "tenant-a", "...")]   // three dots is a name, not a dot segment (and it is escaped in storage)
    public void Parse_AcceptsTenantSlashName(string text, string tenant, string name)
    {
        var id = ConversationId.Parse(text);
        Assert.Equal(tenant, id.Tenant);
        Assert.Equal(name, id.Name);
        Assert.Equal(text, id.ToString());
    }

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void Policy_RefusesHostileIds_ToAServiceOfTheTenantTheyStartWith(string id, string why)
    {
        string tenant = id.Split('/')[0];
        var service = new AccessCredential { Role = CredentialRole.Service, Tenant = tenant.Length > 0 ? tenant : "mallory" };
        foreach (var kind in new[] { CallTargetKind.Session, CallTargetKind.SessionReplyStream, CallTargetKind.SessionTreeChannel })
        {
            string? reason = CallPolicy.Check(service, new CallTarget(kind, id, nameof(ISessionGrain.GetAsync)));
            Assert.NotNull(reason);
            Assert.True(reason.Contains(why) || reason.Contains("own tenant"), reason);
        }
    }

    [Fact]
    public void Policy_ComparesTenantsBySegment_NotByPrefix()
    {
        var mallory = new AccessCredential { Role = CredentialRole.Service, Tenant = "mallory" };
        Assert.Null(CallPolicy.Check(mallory, new CallTarget(CallTargetKind.Session, "mallory/chat", "GetAsync")));
        Assert.NotNull(CallPolicy.Check(mallory, new CallTarget(CallTargetKind.Session, "mallory-2/chat", "GetAsync")));
        Assert.Contains("two segments", CallPolicy.Check(mallory, new CallTarget(CallTargetKind.Session, "mallory/../local/victim-1", "GetAsync")));
    }

    [Fact]
    public void Policy_AChatEdgeStopsItsReplyThroughStopReplyAsync_TheStopsSecondHalfIsTheSessions()
    {
        // StopReplyAsync interleaves and calls EndReplyAsync on the session itself (as the silo); an edge has no use for the latter.
        var edge = new AccessCredential { Role = CredentialRole.Edge, Tenant = "t", ConversationId = "t/c", EdgeId = "e", Chat = true };
        Assert.Null(CallPolicy.Check(edge, new CallTarget(CallTargetKind.Session, "t/c", nameof(ISessionGrain.StopReplyAsync))));
        Assert.Contains(nameof(ISessionGrain.EndReplyAsync), CallPolicy.Check(edge, new CallTarget(CallTargetKind.Session, "t/c", nameof(ISessionGrain.EndReplyAsync))));
        var silo = new AccessCredential { Role = CredentialRole.Silo };
        Assert.Null(CallPolicy.Check(silo, new CallTarget(CallTargetKind.Session, "t/c", nameof(ISessionGrain.EndReplyAsync))));
    }

    [Theory]
    [InlineData("t", "t/c", null)]
    [InlineData(null, "t/c", null)]
    [InlineData("t", null, null)]
    [InlineData("t", "u/c", "another tenant")]
    [InlineData("t", "t/../u/c", "conversation")]
    [InlineData("t/x", "t/c", "tenant")]
    public void ASignedCredential_IsRefusedWhenItsIdsDoNotParse_OrItsConversationIsAnotherTenants(string? tenant, string? conversation, string? refusal)
    {
        var options = Microsoft.Extensions.Options.Options.Create(new SecurityOptions { Keys = { ["k"] = Convert.ToBase64String(new byte[32]) }, ActiveKeyId = "k" });
        var keys = new SigningKeys(options);
        var verified = new VerifiedCredentials(keys, options, TimeProvider.System);
        string token = CredentialCodec.Sign(new AccessCredential
        {
            Role = CredentialRole.Service, Tenant = tenant, ConversationId = conversation,
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
        }, keys.Value);
        bool ok = verified.TryVerify(token, out var credential, out var error);
        if (refusal is null)
        {
            Assert.True(ok, error);
            Assert.NotNull(credential);
        }
        else
        {
            Assert.False(ok);
            Assert.Null(credential);
            Assert.Contains(refusal, error);
        }
    }

    [Fact]
    public void Policy_RefusesAnEdgeCredentialThatNamesAnInvalidConversation_EvenOnThatExactKey()
    {
        // Only a signer could mint this; the policy still refuses to let it name a key that does not parse.
        var edge = new AccessCredential { Role = CredentialRole.Edge, Tenant = "mallory", ConversationId = "mallory/../local/victim-1", EdgeId = "e" };
        Assert.Contains("two segments", CallPolicy.Check(edge, new CallTarget(CallTargetKind.Session, "mallory/../local/victim-1", "GetAsync")));
    }

    [Theory]
    [MemberData(nameof(HostileIds))]
    public void Storage_RefusesHostileSessionKeys_ByName(string id, string why)
    {
        var grain = GrainId.Create("session", id.Length == 0 ? "x" : id);
        if (id.Length == 0) return;   // an empty grain key cannot be created at all
        var e = Assert.Throws<ArgumentException>(() => EscapedKeyGrainStorage.Escaped(grain));
        Assert.Contains(why, e.Message);
        Assert.Contains("session key", e.Message);
    }

    [Fact]
    public void Storage_EscapesEveryKeyIntoOneSegment_WithoutDotsOrSlashes()
    {
        foreach (var key in new[] { "local/chat-1", "t/...", "a/../b", "../../conversationindex/local", "x.", "a\\b" })
        {
            string escaped = EscapedKeyGrainStorage.Escaped(GrainId.Create("sample", key)).Key.ToString()!;
            Assert.DoesNotContain('/', escaped);
            Assert.DoesNotContain('.', escaped);
            Assert.DoesNotContain('\\', escaped);
        }
        // Injective on distinct keys that an SDK's path normalisation would have merged.
        Assert.NotEqual(EscapedKeyGrainStorage.Escaped(GrainId.Create("sample", "a/../b")), EscapedKeyGrainStorage.Escaped(GrainId.Create("sample", "b")));
    }
}
