namespace SpecEdge.Contracts;

/// <summary>
/// The id of a conversation, parsed: <c>tenant/name</c>, two segments of 1 to 64 characters from
/// <c>[A-Za-z0-9._-]</c>, neither of them <c>.</c> or <c>..</c>, and nothing else (no third segment, no escapes, no
/// backslash, no Unicode). Every entry that takes an id from outside (the call policy, the credential issuer, the HTTP
/// API, session storage) parses it here, so a name like <c>mallory/../local/victim</c> is refused before it can reach a
/// grain key, a tenant check by prefix, or a storage path that some SDK would collapse.
/// </summary>
/// <remarks>
/// Tenants are compared segment to segment (<see cref="Tenant"/>), never by string prefix. Parsing allocates nothing
/// beyond the two segment strings; the rule is strict on purpose: an id it refuses is refused by name, never repaired.
/// </remarks>
public readonly record struct ConversationId
{
    /// <summary>The longest segment (tenant or name) an id may have.</summary>
    public const int MaxSegmentLength = 64;

    private ConversationId(string tenant, string name)
    {
        Tenant = tenant;
        Name = name;
    }

    /// <summary>The tenant that owns the conversation: the first segment.</summary>
    public string Tenant { get; }

    /// <summary>The conversation's name within its tenant: the second segment.</summary>
    public string Name { get; }

    /// <summary>The id as a grain key and as callers write it: <c>tenant/name</c>.</summary>
    public override string ToString() => Tenant + "/" + Name;

    /// <summary>A new id in <paramref name="tenant"/>; both parts must be valid segments.</summary>
    public static ConversationId Create(string tenant, string name)
    {
        if (SegmentError(tenant, "tenant") is { } t) throw new ArgumentException(t, nameof(tenant));
        if (SegmentError(name, "name") is { } n) throw new ArgumentException(n, nameof(name));
        return new ConversationId(tenant, name);
    }

    /// <summary>Parses <paramref name="text"/>, or throws an <see cref="ArgumentException"/> that names the problem.</summary>
    public static ConversationId Parse(string? text, string paramName = "conversationId") =>
        TryParse(text, out var id, out var error) ? id : throw new ArgumentException(error, paramName);

    /// <summary>Parses <paramref name="text"/>; on failure <paramref name="error"/> says what is wrong (the id is shown escaped and cut).</summary>
    public static bool TryParse(string? text, out ConversationId id, out string error)
    {
        id = default;
        if (string.IsNullOrEmpty(text)) { error = "The conversation id is empty; it must be 'tenant/name'."; return false; }
        if (text.Length > 2 * MaxSegmentLength + 1)
        {
            error = $"The conversation id is {text.Length} characters long; at most {2 * MaxSegmentLength + 1} ('tenant/name', {MaxSegmentLength} each).";
            return false;
        }
        int slash = text.IndexOf('/');
        if (slash < 0 || text.IndexOf('/', slash + 1) >= 0)
        {
            error = $"The conversation id {Show(text)} must have exactly two segments, 'tenant/name'.";
            return false;
        }
        string tenant = text[..slash], name = text[(slash + 1)..];
        if ((SegmentError(tenant, "tenant") ?? SegmentError(name, "name")) is { } bad)
        {
            error = $"The conversation id {Show(text)} is not valid: {bad}";
            return false;
        }
        id = new ConversationId(tenant, name);
        error = "";
        return true;
    }

    /// <summary>Whether <paramref name="tenant"/> is a valid tenant segment (what a credential's tenant must be).</summary>
    public static bool IsValidTenant(string? tenant) => SegmentError(tenant, "tenant") is null;

    /// <summary>Why <paramref name="segment"/> cannot be one segment of an id (naming it <paramref name="what"/>), or null.</summary>
    public static string? SegmentError(string? segment, string what)
    {
        if (string.IsNullOrEmpty(segment)) return $"the {what} is empty.";
        if (segment.Length > MaxSegmentLength) return $"the {what} is {segment.Length} characters long; at most {MaxSegmentLength}.";
        if (segment is "." or "..") return $"the {what} may not be '.' or '..'.";
        foreach (char c in segment)
            if (!IsSegmentChar(c))
                return $"the {what} contains {Describe(c)}; only A-Z, a-z, 0-9, '.', '_' and '-' are allowed.";
        return null;
    }

    private static bool IsSegmentChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-';

    private static string Describe(char c) =>
        c is >= ' ' and <= '~' ? $"'{c}'" : $"U+{(int)c:X4}";

    /// <summary>The id as an error message shows it: printable ASCII kept, anything else as U+XXXX, long ids cut.</summary>
    private static string Show(string text)
    {
        const int MaxShown = 80;
        var shown = new System.Text.StringBuilder("'");
        foreach (char c in text.Length > MaxShown ? text[..MaxShown] : text)
            shown.Append(c is >= ' ' and <= '~' ? c.ToString() : $"U+{(int)c:X4}");
        return shown.Append(text.Length > MaxShown ? "'…" : "'").ToString();
    }
}
