namespace SpecEdge.Contracts;

/// <summary>
/// Why a reply ended. Front ends map it (e.g. the OpenAI API: <see cref="MaxTokens"/> and <see cref="ContextFull"/>
/// are "length", the others "stop"); <see cref="Error"/> comes with a message for the reader.
/// Values are persisted and travel between versions: never renumber them.
/// </summary>
[GenerateSerializer, Alias("specedge.ReplyFinish")]
public enum ReplyFinish
{
    /// <summary>The model ended its turn (an end-of-sequence or end-of-turn token).</summary>
    EndOfSequence = 1,
    /// <summary>The reply reached its MaxNewTokens.</summary>
    MaxTokens = 2,
    /// <summary>A stop string appeared; the text ends before it.</summary>
    StopString = 3,
    /// <summary>The conversation reached the silo's MaxContextTokens.</summary>
    ContextFull = 4,
    /// <summary>The server gave the reply up (e.g. storage kept failing); the chunk's error says why.</summary>
    Error = 5,
    /// <summary>The caller stopped the reply (it went away); what was committed before stays.</summary>
    Cancelled = 6,
}
