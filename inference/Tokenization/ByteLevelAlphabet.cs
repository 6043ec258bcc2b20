using System.Text;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// GPT-2's reversible map from bytes to printable characters (<c>bytes_to_unicode</c>) used by byte-level BPE
/// vocabularies (GPT-2, Llama 3, Qwen): printable Latin-1 bytes stand for themselves, the other 68 bytes take the
/// characters from U+0100 upwards in byte order (space becomes 'Ġ', newline 'Ċ'). Tokenizer loading, decoding and the
/// demo-pair BPE trainer all use this one table.
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>Byte -> character.</summary>
    private static readonly char[] ByteToChar = new char[256];

    /// <summary>Character -> byte; characters outside the alphabet map to -1.</summary>
    private static readonly short[] CharToByte = new short[512];

    /// <summary>The byte of each of the 256 base tokens, in GPT-2's vocabulary order (<c>!</c> is id 0).</summary>
    public static readonly IReadOnlyList<byte> BytesInVocabOrder;

    static ByteLevelAlphabet()
    {
        Array.Fill(CharToByte, (short)-1);
        var printableFirst = new List<byte>();
        var shiftedAfter = new List<byte>();
        int shifted = 0;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char c = printable ? (char)b : (char)(256 + shifted++);
            ByteToChar[b] = c;
            CharToByte[c] = (short)b;
            (printable ? printableFirst : shiftedAfter).Add((byte)b);
        }
        BytesInVocabOrder = printableFirst.Concat(shiftedAfter).ToArray();
    }

    /// <summary>The character standing for byte <paramref name="b"/>.</summary>
    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The vocabulary spelling of some UTF-8 bytes.</summary>
    public static string FromBytes(ReadOnlySpan<byte> bytes) =>
        string.Create(bytes.Length, bytes.ToArray(), static (chars, b) =>
        {
            for (int i = 0; i < b.Length; i++) chars[i] = ByteToChar[b[i]];
        });

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, each written as its stand-in character.</summary>
    public static string Encode(string text) => FromBytes(Encoding.UTF8.GetBytes(text));

    /// <summary>The UTF-8 bytes a byte-level vocabulary string stands for; text from outside the alphabet is kept as UTF-8.</summary>
    public static byte[] ToBytes(string token)
    {
        var bytes = new byte[token.Length];
        for (int i = 0; i < token.Length; i++)
        {
            char c = token[i];
            int b = c < CharToByte.Length ? CharToByte[c] : -1;
            if (b < 0) return Encoding.UTF8.GetBytes(token);   // not produced by a byte-level vocabulary: keep the text
            bytes[i] = (byte)b;
        }
        return bytes;
    }

    /// <summary>Appends the bytes a byte-level token spells to <paramref name="output"/>; throws on a foreign character.</summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (char c in token)
        {
            int b = c < CharToByte.Length ? CharToByte[c] : -1;
            if (b < 0) throw new ArgumentException($"'{c}' (U+{(int)c:X4}) in token '{token}' is not a byte-level character.");
            output.Add((byte)b);
        }
    }
}
