using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// The pre-tokenizer of a Hugging Face byte-level BPE tokenizer: added tokens become pieces of their own,
/// the text between them is split by the tokenizer.json Split regex with "Isolated" behaviour (every match
/// is a piece, and so is any unmatched gap).
/// </summary>
/// <remarks>
/// Hugging Face runs the regex (Oniguruma) over code points; .NET Regex sees a character outside the BMP as
/// two surrogate halves, so "\p{L}" would not match 𝐀 and "[^\r\n\p{L}\p{N}]?" would eat only half an emoji.
/// When the text has surrogate pairs, the regex therefore runs on a copy in which each pair is replaced by
/// one BMP character of the same Unicode category, and the pieces are mapped back to the original offsets.
/// </remarks>
internal sealed class CodePointRegexPreTokenizer : PreTokenizer
{
    /// <summary>One BMP character per Unicode category, used as the stand-in for non-BMP characters.</summary>
    private static readonly char[] StandIns = BuildStandIns();

    private readonly Regex _regex;
    private readonly AddedTokenMatcher? _addedTokens;

    public CodePointRegexPreTokenizer(Regex regex, AddedTokenMatcher? addedTokens)
    {
        _regex = regex;
        _addedTokens = addedTokens;
    }

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) =>
        text is null ? [] : Split(text.AsSpan());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text);

    /// <summary>The pieces of <paramref name="text"/> as (offset, length), in order, covering all of it.</summary>
    public List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        var pieces = new List<(int, int)>();
        int start = 0;
        while (start < text.Length)
        {
            var next = _addedTokens?.FindNext(text, start);
            int end = next?.Index ?? text.Length;
            SplitByRegex(text, start, end, pieces);
            if (next is not { } hit)
            {
                break;
            }
            pieces.Add((hit.Index, hit.Token.Content.Length));
            start = hit.Index + hit.Token.Content.Length;
        }
        return pieces;
    }

    private void SplitByRegex(ReadOnlySpan<char> text, int start, int end, List<(int, int)> pieces)
    {
        if (start >= end)
        {
            return;
        }
        var segment = text[start..end];
        int[]? map = null;
        if (segment.IndexOfAnyInRange('\uD800', '\uDFFF') >= 0)
        {
            segment = ReplaceSurrogatePairs(segment, out map);
        }

        int previousEnd = 0;
        foreach (var match in _regex.EnumerateMatches(segment))
        {
            if (match.Length == 0)
            {
                continue;
            }
            if (match.Index > previousEnd)
            {
                AddPiece(previousEnd, match.Index);
            }
            AddPiece(match.Index, match.Index + match.Length);
            previousEnd = match.Index + match.Length;
        }
        if (previousEnd < segment.Length)
        {
            AddPiece(previousEnd, segment.Length);
        }

        void AddPiece(int from, int to)
        {
            int a = map is null ? from : map[from];
            int b = map is null ? to : map[to];
            pieces.Add((start + a, b - a));
        }
    }

    /// <summary>
    /// A copy with every surrogate pair replaced by one stand-in; map[i] is the original offset of copy
    /// position i (map has one extra entry for the end).
    /// </summary>
    private static ReadOnlySpan<char> ReplaceSurrogatePairs(ReadOnlySpan<char> text, out int[] map)
    {
        var copy = new char[text.Length];
        map = new int[text.Length + 1];
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            map[n] = i;
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                int codePoint = char.ConvertToUtf32(text[i], text[i + 1]);
                copy[n++] = StandIns[(int)CharUnicodeInfo.GetUnicodeCategory(codePoint)];
                i++;
            }
            else
            {
                copy[n++] = text[i];
            }
        }
        map[n] = text.Length;
        return copy.AsSpan(0, n);
    }

    private static char[] BuildStandIns()
    {
        // The first non-ASCII, non-whitespace BMP character of each category: no code point outside the BMP
        // is whitespace, and avoiding ASCII keeps stand-ins away from literal characters of the patterns
        // (the contractions 's 't ..., \r, \n).
        var standIns = new char[32];
        var found = new bool[32];
        for (int c = 0x80; c <= 0xFFFF; c++)
        {
            if (c is >= 0xD800 and <= 0xDFFF || char.IsWhiteSpace((char)c))
            {
                continue;
            }
            int category = (int)CharUnicodeInfo.GetUnicodeCategory((char)c);
            if (!found[category])
            {
                found[category] = true;
                standIns[category] = (char)c;
            }
        }
        for (int i = 0; i < standIns.Length; i++)
        {
            if (!found[i])
            {
                standIns[i] = '\uFFFD';
            }
        }
        return standIns;
    }
}
