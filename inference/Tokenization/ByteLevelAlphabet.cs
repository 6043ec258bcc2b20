namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// GPT-2's byte-to-character table used by byte-level BPE vocabularies: every byte maps to a printable
/// character so that vocabulary entries are plain strings (space becomes 'Ġ', newline 'Ċ').
/// Decoding needs the inverse to turn vocabulary strings back into the UTF-8 bytes they stand for.
/// </summary>
internal static class ByteLevelAlphabet
{
    /// <summary>Character -> byte; characters outside the alphabet map to -1.</summary>
    private static readonly short[] CharToByte = BuildInverse();

    /// <summary>Byte -> character.</summary>
    private static readonly char[] ByteToChar = BuildForward();

    private static char[] BuildForward()
    {
        var forward = new char[256];
        for (int c = 0; c < CharToByte.Length; c++)
        {
            if (CharToByte[c] >= 0)
            {
                forward[CharToByte[c]] = (char)c;
            }
        }
        return forward;
    }

    /// <summary>The vocabulary spelling of some UTF-8 bytes.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes) =>
        string.Create(bytes.Length, bytes.ToArray(), static (chars, b) =>
        {
            for (int i = 0; i < b.Length; i++)
            {
                chars[i] = ByteToChar[b[i]];
            }
        });

    private static short[] BuildInverse()
    {
        // Printable Latin-1 bytes stand for themselves; the remaining 68 bytes are shifted to 256 + n in
        // byte order, exactly as GPT-2's bytes_to_unicode() does.
        var inverse = new short[512];
        Array.Fill(inverse, (short)-1);
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            int c = printable ? b : 256 + shifted++;
            inverse[c] = (short)b;
        }
        return inverse;
    }

    /// <summary>The UTF-8 bytes a byte-level vocabulary string stands for.</summary>
    public static byte[] ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            int b = c < CharToByte.Length ? CharToByte[c] : -1;
            if (b < 0)
            {
                // Not produced by a byte-level vocabulary; keep the text rather than lose it.
                return System.Text.Encoding.UTF8.GetBytes(token);
            }
            bytes[i] = (byte)b;
        }
        return bytes;
    }
}
