namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What one of the server's own speculative steps brings and costs on a device, as learnt by
/// <see cref="ServerDraftLedger"/>: tokens committed per step (accepted nodes plus the bonus), the device time of
/// drafting, and the nodes of a tree verified. Drafting costs <see cref="DraftFixedMs"/> per pass plus
/// <see cref="DraftMs"/> per tree: a device that drafts one tree after another has no fixed part, one that drafts a
/// forward's trees together (<see cref="BatchTreeDrafting"/>) pays mostly the fixed part while its draft's forward is
/// bound by reading the weights.
/// </summary>
public readonly record struct ServerDraftCost(double TokensPerStep, double DraftMs, double VerifiedNodes, double DraftFixedMs = 0)
{
    /// <summary>Device time each server-drafted step adds to a forward over a plain one, besides the pass's fixed part: its tree's drafting and verified nodes.</summary>
    public double ExtraMs(double pricePerNode) => DraftMs + pricePerNode * VerifiedNodes;

    /// <summary>Device time <paramref name="trees"/> server-drafted steps add to a forward over plain ones: one drafting pass, and each tree's share and nodes.</summary>
    public double ExtraMs(int trees, double pricePerNode) => trees <= 0 ? 0 : DraftFixedMs + trees * ExtraMs(pricePerNode);

    /// <summary>Milliseconds one drafting pass of <paramref name="trees"/> trees takes.</summary>
    public double DraftingMs(int trees) => trees <= 0 ? 0 : DraftFixedMs + trees * DraftMs;
}
