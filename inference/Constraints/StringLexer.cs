namespace SpecEdge.Inference.Constraints;

/// <summary>
/// The inside of a JSON string, one byte at a time: escapes (\" \\ \/ \b \f \n \r \t \uXXXX), no control characters,
/// and well-formed UTF-8 (no overlong forms, no surrogates, nothing past U+10FFFF), so a constrained reply always
/// decodes to the text it spells. The state is a small number, which lets a vocabulary precompute, per state, which
/// tokens stay inside a string (<see cref="TokenVocabulary"/>).
/// </summary>
public static class StringLexer
{
    public const int Normal = 0, Escape = 1, Hex4 = 2, Hex3 = 3, Hex2 = 4, Hex1 = 5;
    /// <summary>UTF-8: 1, 2 or 3 continuation bytes (80-BF) to go.</summary>
    public const int Cont1 = 6, Cont2 = 7, Cont3 = 8;
    /// <summary>UTF-8 lead bytes whose first continuation has a narrower range: E0 (A0-BF), ED (80-9F), F0 (90-BF), F4 (80-8F).</summary>
    public const int AfterE0 = 9, AfterED = 10, AfterF0 = 11, AfterF4 = 12;
    public const int StateCount = 13;
    /// <summary>Results of <see cref="Next"/> that are not states.</summary>
    public const int Closed = -2, Rejected = -1;

    public static int Next(int state, byte b) => state switch
    {
        Normal => b switch
        {
            (byte)'"' => Closed,
            (byte)'\\' => Escape,
            < 0x20 => Rejected,
            < 0x80 => Normal,
            >= 0xC2 and <= 0xDF => Cont1,
            0xE0 => AfterE0,
            0xED => AfterED,
            >= 0xE1 and <= 0xEF => Cont2,
            0xF0 => AfterF0,
            >= 0xF1 and <= 0xF3 => Cont3,
            0xF4 => AfterF4,
            _ => Rejected,
        },
        Escape => b switch
        {
            (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t' => Normal,
            (byte)'u' => Hex4,
            _ => Rejected,
        },
        Hex4 or Hex3 or Hex2 or Hex1 => IsHex(b) ? (state == Hex1 ? Normal : state + 1) : Rejected,
        Cont1 => Continuation(b, 0x80, 0xBF, Normal),
        Cont2 => Continuation(b, 0x80, 0xBF, Cont1),
        Cont3 => Continuation(b, 0x80, 0xBF, Cont2),
        AfterE0 => Continuation(b, 0xA0, 0xBF, Cont1),
        AfterED => Continuation(b, 0x80, 0x9F, Cont1),
        AfterF0 => Continuation(b, 0x90, 0xBF, Cont2),
        AfterF4 => Continuation(b, 0x80, 0x8F, Cont2),
        _ => Rejected,
    };

    private static int Continuation(byte b, byte low, byte high, int then) => b >= low && b <= high ? then : Rejected;

    private static bool IsHex(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'f') or (>= (byte)'A' and <= (byte)'F');
}
