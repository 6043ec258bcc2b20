namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// Finds added tokens in text the way Hugging Face does: leftmost match first and, among matches starting
/// at the same place, the longest (so "&lt;|im_start|&gt;" wins over any shorter token sharing its prefix).
/// </summary>
internal sealed class AddedTokenMatcher
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;
    private readonly System.Buffers.SearchValues<char> _firstChars;

    public AddedTokenMatcher(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens
            .Where(t => t.Content.Length > 0)
            .GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
        _firstChars = System.Buffers.SearchValues.Create(_byFirstChar.Keys.ToArray());
    }

    /// <summary>The next added token at or after <paramref name="start"/>, or null if none.</summary>
    public (int Index, AddedToken Token)? FindNext(ReadOnlySpan<char> text, int start)
    {
        int i = start;
        while (i < text.Length)
        {
            int hit = text[i..].IndexOfAny(_firstChars);
            if (hit < 0)
            {
                return null;
            }
            i += hit;
            foreach (var token in _byFirstChar[text[i]])
            {
                if (text[i..].StartsWith(token.Content, StringComparison.Ordinal))
                {
                    return (i, token);
                }
            }
            i++;
        }
        return null;
    }
}
