using System.Text;

namespace SpecEdge.Inference.Training;

/// <summary>
/// GPT-2's reversible map from bytes to printable characters (<c>bytes_to_unicode</c>): printable Latin-1 bytes stand for
/// themselves, the other 68 bytes take the characters from U+0100 upwards (so a space is <c>Ġ</c>). Byte-level BPE
/// vocabularies (GPT-2, Llama 3, Qwen) spell their tokens in these characters.
/// </summary>
public static class ByteLevelAlphabet
{
    /// <summary>The byte of each of the 256 base tokens, in GPT-2's vocabulary order (<c>!</c> is id 0).</summary>
    public static readonly IReadOnlyList<byte> BytesInVocabOrder;
    private static readonly char[] ByteToChar = new char[256];
    private static readonly Dictionary<char, byte> CharToByte = new();

    static ByteLevelAlphabet()
    {
        var printable = new List<int>();
        for (int b = '!'; b <= '~'; b++) printable.Add(b);
        for (int b = 0xA1; b <= 0xAC; b++) printable.Add(b);
        for (int b = 0xAE; b <= 0xFF; b++) printable.Add(b);
        var order = new List<byte>();
        foreach (int b in printable) { ByteToChar[b] = (char)b; order.Add((byte)b); }
        int next = 0;
        for (int b = 0; b < 256; b++)
        {
            if (printable.Contains(b)) continue;
            ByteToChar[b] = (char)(256 + next++);
            order.Add((byte)b);
        }
        for (int b = 0; b < 256; b++) CharToByte[ByteToChar[b]] = (byte)b;
        BytesInVocabOrder = order;
    }

    public static char Char(byte b) => ByteToChar[b];

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, each written as its stand-in character.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, (span, b) => { for (int i = 0; i < b.Length; i++) span[i] = ByteToChar[b[i]]; });
    }

    /// <summary>Appends the bytes a byte-level token spells to <paramref name="output"/>.</summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        foreach (char c in token)
            output.Add(CharToByte.TryGetValue(c, out byte b) ? b
                : throw new ArgumentException($"'{c}' (U+{(int)c:X4}) in token '{token}' is not a byte-level character."));
    }
}
