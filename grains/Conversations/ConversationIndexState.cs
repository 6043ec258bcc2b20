namespace SpecEdge.Grains.Conversations;

/// <summary>The persisted index of one tenant: conversation key to the sessions holding it, with when each key was last recorded (to drop the oldest).</summary>
[GenerateSerializer, Alias("specedge.ConversationIndexState")]
public sealed class ConversationIndexState
{
    [Id(0)] public Dictionary<string, ConversationIndexEntry> Entries { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// Sessions that hold the same conversation (two identical requests each made one), most recent last: each can be
/// continued once, so as many follow-ups as there are sessions reuse a cache before one has to fork.
/// </summary>
[GenerateSerializer, Immutable, Alias("specedge.ConversationIndexEntry")]
public sealed record ConversationIndexEntry([property: Id(0)] string[] SessionIds, [property: Id(1)] DateTime RecordedAt);
