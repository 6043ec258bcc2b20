using System.Text.RegularExpressions;

namespace SpecEdge.OpenAi;

/// <summary>
/// An error message as the API's caller should read it: in the API's own terms. Our options' names in parentheses
/// (<c>(SpecEdge:MaxNewTokensLimit)</c>, helpful in a log) and .NET type names from the JSON reader
/// (<c>System.Nullable`1[System.Int64]</c>) mean nothing to a client and tell an attacker what runs here; they become
/// nothing and plain words (an integer, a number, a string, ...). Applied to every error body the API sends.
/// </summary>
public static partial class PublicWords
{
    public static string Of(string message)
    {
        string text = OptionName().Replace(message, "");
        text = NullableType().Replace(text, m => Kind(m.Groups[1].Value));
        text = SystemType().Replace(text, m => Kind(m.Groups[1].Value));
        text = OurType().Replace(text, m => m.Groups[1].Success ? "an array" : "an object");
        return text;
    }

    private static string Kind(string type) => type switch
    {
        "Int16" or "Int32" or "Int64" or "UInt16" or "UInt32" or "UInt64" or "Byte" or "SByte" => "an integer",
        "Single" or "Double" or "Decimal" => "a number",
        "Boolean" => "true or false",
        "String" or "Char" => "a string",
        _ when type.StartsWith("Collections", StringComparison.Ordinal) || type.EndsWith("[]", StringComparison.Ordinal) => "an array",
        _ => "a value of another type",
    };

    /// <summary>" (SpecEdge:MaxBatch)", " (OpenAi:MaxRequestBytes)" and the like.</summary>
    [GeneratedRegex(@"\s*\((?:SpecEdge|OpenAi|Security|Tls|Cluster|Gateway|Edge):[A-Za-z:<>]+\)")]
    private static partial Regex OptionName();

    [GeneratedRegex(@"System\.Nullable`1\[\[?System\.([A-Za-z0-9]+)[^\]]*\]\]?")]
    private static partial Regex NullableType();

    [GeneratedRegex(@"System\.((?:Collections\.[A-Za-z0-9.`]+(?:\[[^\]]*\])?)|[A-Za-z0-9]+(?:\.[A-Za-z0-9]+)*(?:\[\])?)")]
    private static partial Regex SystemType();

    [GeneratedRegex(@"SpecEdge\.[A-Za-z0-9.`]+(\[\])?")]
    private static partial Regex OurType();
}
