namespace SpecEdge.Grains.Conversations;

/// <summary>The persisted index of one tenant: conversation key to session, with when each was recorded (to drop the oldest).</summary>
[GenerateSerializer]
public sealed class ConversationIndexState
{
    [Id(0)] public Dictionary<string, ConversationIndexEntry> Entries { get; set; } = new(StringComparer.Ordinal);
}

[GenerateSerializer, Immutable]
public sealed record ConversationIndexEntry([property: Id(0)] string SessionId, [property: Id(1)] DateTime RecordedAt);
