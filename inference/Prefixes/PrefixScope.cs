namespace SpecEdge.Inference.Prefixes;

/// <summary>
/// Who may reuse a sequence's prefix blocks: its tenant, and everyone for the blocks that lie inside a declared public
/// prefix. Part of every block's key, so a lookup under one tenant can never find another tenant's block.
/// </summary>
public sealed record PrefixScope(string Tenant, PublicPrefixes Public)
{
    /// <summary>A scope of one tenant with no public prefixes.</summary>
    public static PrefixScope Of(string tenant) => new(tenant, PublicPrefixes.None);

    /// <summary>The tag a block ending at token <paramref name="blockEnd"/> is keyed under, given how much of the sequence is public.</summary>
    internal string Tag(int blockEnd, int publicLength) => blockEnd <= publicLength ? "public" : "tenant:" + Tenant;
}
