namespace SpecEdge.Inference.Speculative;

/// <summary>
/// What one of the server's own speculative steps brings and costs on a device, as learnt by
/// <see cref="ServerDraftLedger"/>: tokens committed per step (accepted nodes plus the bonus), the device time of
/// drafting its tree (the server drafts one tree after another, on the device thread), and the nodes of it verified.
/// </summary>
public readonly record struct ServerDraftCost(double TokensPerStep, double DraftMs, double VerifiedNodes)
{
    /// <summary>Device time a server-drafted step adds to a forward over a plain one: its drafting and its verified nodes.</summary>
    public double ExtraMs(double pricePerNode) => DraftMs + pricePerNode * VerifiedNodes;
}
