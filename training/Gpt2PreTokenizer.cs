using System.Text.RegularExpressions;

namespace SpecEdge.Inference.Training;

/// <summary>
/// GPT-2's pre-tokenisation: text is cut into words with their leading space, digit runs, punctuation runs and
/// whitespace before BPE merges apply inside each piece. The same regex is written into tokenizer.json as a
/// <c>Split</c> pre-tokenizer (behavior Isolated), so Hugging Face tokenizers cut text identically.
/// .NET's regex sees a character outside the Basic Multilingual Plane as two surrogate halves, so pieces can differ
/// from Hugging Face's for such characters (emoji, rare CJK); the Brown corpus is ASCII.
/// </summary>
public static partial class Gpt2PreTokenizer
{
    public const string Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex Regex();

    /// <summary>The pieces of <paramref name="text"/>, in order; their concatenation is the text.</summary>
    public static IEnumerable<string> Split(string text)
    {
        int end = 0;
        for (var m = Regex().Match(text); m.Success; m = m.NextMatch())
        {
            if (m.Index > end) yield return text[end..m.Index];   // Isolated split keeps unmatched gaps as pieces
            if (m.Length > 0) yield return m.Value;
            end = m.Index + m.Length;
        }
        if (end < text.Length) yield return text[end..];
    }
}
