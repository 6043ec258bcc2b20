namespace SpecEdge.Inference.Speculative;

/// <summary>
/// Why a generation ended. <see cref="ContextFull"/>: the conversation reached the context length (the KV cache's
/// capacity), a "length" end like <see cref="MaxTokens"/>, but no further turn fits either.
/// </summary>
public enum FinishReason { None, EndOfSequence, MaxTokens, StopString, ContextFull }

/// <summary>
/// When to stop: an end-of-sequence id, a maximum number of new tokens, a stop string in the decoded text, or the end
/// of the room in the context. <see cref="Cut"/> trims a batch of newly accepted tokens so that nothing past the stop
/// is ever emitted.
/// </summary>
public sealed record StopCriteria(IReadOnlyCollection<int> EosTokenIds, int MaxNewTokens, IReadOnlyList<string>? StopStrings = null,
    Func<IReadOnlyList<int>, string>? Decode = null)
{
    /// <summary>
    /// Of <paramref name="incoming"/> tokens following <paramref name="generated"/> (this generation's tokens so far),
    /// how many to keep, and whether generation ends with them. EOS is kept (it ends the reply); a stop string is kept
    /// up to the token that completes it. <paramref name="contextRoom"/> is how many more tokens the sequence's context can
    /// hold; reaching it ends the generation (<see cref="FinishReason.ContextFull"/>) instead of overflowing the cache.
    /// </summary>
    public (int Keep, FinishReason Reason) Cut(IReadOnlyList<int> generated, IReadOnlyList<int> incoming, int contextRoom = int.MaxValue)
    {
        int room = Math.Max(0, MaxNewTokens - generated.Count);
        contextRoom = Math.Max(0, contextRoom);
        bool checkStrings = StopStrings is { Count: > 0 } && Decode is not null;
        // A stop string is matched on the text of the last few tokens only, so checking stays O(1) per token.
        int window = checkStrings ? StopStrings!.Max(x => x.Length) + 4 : 0;
        var all = checkStrings ? generated.Concat(incoming).ToList() : null;
        for (int i = 0; i < incoming.Count; i++)
        {
            if (i >= room) return (i, FinishReason.MaxTokens);
            if (i >= contextRoom) return (i, FinishReason.ContextFull);
            if (EosTokenIds.Contains(incoming[i])) return (i + 1, FinishReason.EndOfSequence);
            if (checkStrings)
            {
                int end = generated.Count + i + 1, start = Math.Max(0, end - window);
                string tail = Decode!(all!.GetRange(start, end - start));
                if (StopStrings!.Any(x => tail.Contains(x, StringComparison.Ordinal))) return (i + 1, FinishReason.StopString);
            }
        }
        return incoming.Count >= room ? (incoming.Count, FinishReason.MaxTokens)
            : incoming.Count >= contextRoom ? (incoming.Count, FinishReason.ContextFull)
            : (incoming.Count, FinishReason.None);
    }

    /// <summary>
    /// <paramref name="text"/> cut before the earliest stop string (what a reader should see; the tokens that completed
    /// the stop string stay committed).
    /// </summary>
    public static string TrimAtStopString(string text, IReadOnlyList<string>? stopStrings)
    {
        if (stopStrings is null) return text;
        int cut = stopStrings.Where(x => x.Length > 0).Select(x => text.IndexOf(x, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(-1).Min();
        return cut >= 0 ? text[..cut] : text;
    }
}
