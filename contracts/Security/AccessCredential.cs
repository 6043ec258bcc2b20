using System.Text.Json.Serialization;

namespace SpecEdge.Contracts.Security;

/// <summary>
/// The claims of a signed credential (see <see cref="CredentialCodec"/>). Short JSON names keep the token small, since
/// it travels in <c>RequestContext</c> with every call. <see cref="ConversationId"/> and <see cref="EdgeId"/> are set
/// for edges only; <see cref="Tenant"/> scopes a service to the conversations whose id starts with "tenant/".
/// </summary>
public sealed record AccessCredential
{
    [JsonPropertyName("r")] public CredentialRole Role { get; init; }
    [JsonPropertyName("t")] public string? Tenant { get; init; }
    [JsonPropertyName("c")] public string? ConversationId { get; init; }
    [JsonPropertyName("e")] public string? EdgeId { get; init; }
    /// <summary>An edge that is also the user's front end may send messages, configure and stream replies of its conversation.</summary>
    [JsonPropertyName("u")] public bool Chat { get; init; }
    /// <summary>Unix seconds after which the credential is refused.</summary>
    [JsonPropertyName("x")] public long ExpiresAt { get; init; }
    /// <summary>Which signing key signed it, so keys can rotate without a flag day.</summary>
    [JsonPropertyName("k")] public string KeyId { get; init; } = "";

    /// <summary>The conversation ids a service of <paramref name="tenant"/> may address start with this.</summary>
    public static string TenantPrefix(string tenant) => tenant + "/";

    public DateTimeOffset Expiry => DateTimeOffset.FromUnixTimeSeconds(ExpiresAt);
}
