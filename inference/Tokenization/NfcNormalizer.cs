using System.Text;
using Microsoft.ML.Tokenizers;

namespace SpecEdge.Inference.Tokenization;

/// <summary>The tokenizer.json "NFC" normalizer (Qwen uses it).</summary>
/// <remarks>
/// .NET normalizes through ICU. A process running with InvariantGlobalization has no ICU and
/// string.Normalize then returns text unchanged, so text that is not already NFC would be tokenized
/// differently from Hugging Face; <see cref="IsExact"/> tells whether this process normalizes for real.
/// </remarks>
internal sealed class NfcNormalizer : Normalizer
{
    public static readonly NfcNormalizer Instance = new();

    /// <summary>Whether string.Normalize works in this process (false under InvariantGlobalization).</summary>
    public static bool IsExact { get; } = "e\u0301".Normalize(NormalizationForm.FormC) == "\u00e9";

    public override string Normalize(string original) => NeedsWork(original) ? original.Normalize(NormalizationForm.FormC) : original;

    public override string Normalize(ReadOnlySpan<char> original) => Normalize(original.ToString());

    // Below U+0300 nothing composes (the first combining mark is U+0300), so most text skips ICU entirely.
    private static bool NeedsWork(string text) => text.AsSpan().IndexOfAnyInRange('\u0300', '\uFFFF') >= 0;
}
