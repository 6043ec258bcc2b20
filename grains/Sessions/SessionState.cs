using SpecEdge.Contracts;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// The persisted part of a conversation: enough to rebuild everything else (KV caches are rebuilt by prefill).
/// </summary>
[GenerateSerializer, Alias("specedge.SessionState")]
public sealed class SessionState
{
    [Id(0)] public List<ChatTurn> Messages { get; set; } = new();
    [Id(1)] public List<int> Committed { get; set; } = new();
    [Id(2)] public GenerationSettings Settings { get; set; } = new();
    [Id(3)] public long Step { get; set; }
    // Id 4 held an RNG position until sampling draws were keyed by position; never reuse it.
    [Id(5)] public string? AttachedEdge { get; set; }
    [Id(6)] public bool Generating { get; set; }
    /// <summary>Index in <see cref="Committed"/> where the current (or last) reply begins.</summary>
    [Id(7)] public int ReplyStart { get; set; }
    /// <summary>
    /// Tokens of each chunk of the current (or last) reply, in order, and why it ended: enough to rebuild the exact
    /// chunks readers saw, so chunk numbering survives a failover and a reader resuming at chunk k misses and repeats
    /// nothing.
    /// </summary>
    [Id(8)] public List<int> ReplyChunkSizes { get; set; } = new();
    /// <summary>Why the last reply ended, as <see cref="PersistedFinish"/> writes it.</summary>
    [Id(9)] public string? ReplyFinish { get; set; }
    /// <summary>The tenant whose quota the reply in progress counts against (null: none, e.g. an operator's).</summary>
    [Id(10)] public string? QuotaTenant { get; set; }
    /// <summary>Who set <see cref="GenerationSettings.Seed"/> and may read it back (<see cref="SeedOwners"/>); null when the session chose it.</summary>
    [Id(11)] public string? SeedOwner { get; set; }
}
