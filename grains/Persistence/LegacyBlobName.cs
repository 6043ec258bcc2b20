using System.Security.Cryptography;
using System.Text;
using Orleans.Runtime;

namespace SpecEdge.Grains.Persistence;

/// <summary>
/// The blob layout of the provider that preceded Orleans' own (removed 2026-12-01, see LegacyBlobFallbackGrainStorage):
/// (grain type, grain key, state name) maps to a blob name <c>{type}/{key}/{state}.json</c>. Each part is escaped
/// injectively (letters, digits, '-' and '_' stay; every other UTF-8 byte becomes <c>~XX</c>), so distinct grains
/// never share a blob, and '/' or '.' inside a key cannot create extra path segments or trailing dots.
/// </summary>
internal static class LegacyBlobName
{
    // Azure allows 1,024 characters per blob name and 254 per path segment; long keys keep a readable prefix plus a hash.
    private const int MaxSegmentLength = 200;

    public static string For(string stateName, GrainId grainId) =>
        $"{Escape(grainId.Type.ToString()!)}/{Escape(grainId.Key.ToString()!)}/{Escape(stateName)}.json";

    internal static string Escape(string part)
    {
        var escaped = new StringBuilder(part.Length);
        foreach (var b in Encoding.UTF8.GetBytes(part))
        {
            var c = (char)b;
            if (c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or '_')
                escaped.Append(c);
            else
                escaped.Append('~').Append(b.ToString("X2"));
        }

        if (escaped.Length == 0)
            return "~";
        if (escaped.Length <= MaxSegmentLength)
            return escaped.ToString();
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(part)));
        return escaped.ToString(0, MaxSegmentLength - hash.Length - 2) + "~h" + hash;
    }
}
