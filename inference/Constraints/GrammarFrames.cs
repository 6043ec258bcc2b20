namespace SpecEdge.Inference.Constraints;

/// <summary>What one frame of a <see cref="GrammarState"/> does with a byte.</summary>
internal enum StepKind
{
    /// <summary>The byte cannot come next.</summary>
    Reject,
    /// <summary>Consumed; the frame becomes <see cref="FrameStep.Next"/>.</summary>
    Stay,
    /// <summary>Consumed, and it ended the frame's value (a closing quote or bracket, a literal's last byte).</summary>
    Done,
    /// <summary>Not consumed: the frame's value ended before it (a number, a literal among longer ones); the parent takes it.</summary>
    PassUp,
    /// <summary>Consumed as the first byte of a child value: the frame becomes <see cref="FrameStep.Next"/> and the child goes on top (none if the child already ended).</summary>
    Open,
}

internal readonly record struct FrameStep(StepKind Kind, Frame? Next = null, Frame? Child = null)
{
    public static readonly FrameStep Rejected = new(StepKind.Reject);
    public static readonly FrameStep Finished = new(StepKind.Done);
    public static readonly FrameStep Passed = new(StepKind.PassUp);
    public static FrameStep Stay(Frame next) => new(StepKind.Stay, next);
}

/// <summary>
/// One level of the matcher's stack: a value in progress. Frames are immutable records compared by value (shapes by
/// reference), so a whole state can key a cache of token masks.
/// </summary>
internal abstract record Frame
{
    /// <param name="depth">How many frames the stack holds with this one on top; a child would sit one deeper.</param>
    public abstract FrameStep Feed(byte b, int depth);

    /// <summary>
    /// Most nested objects and arrays (and strings and numbers in them) a constrained value may have: without a bound a
    /// model could open brackets until the reply's end and the stack would grow with it.
    /// </summary>
    public const int MaxDepth = 32;

    /// <summary>
    /// Most whitespace bytes in a row between tokens of JSON: one, so replies are compact JSON with single spaces or
    /// newlines as separators. A model under a grammar otherwise can spend its reply on blanks, since whitespace is
    /// allowed almost everywhere: our demo model did with 24, and the same runaway is reported for xgrammar in vLLM
    /// (vllm-project/vllm#38696, which proposes a cap of 8) and led Outlines to its single-whitespace option
    /// (dottxt-ai/outlines#625). A strong model loses only its indentation.
    /// </summary>
    public const int MaxWhitespaceRun = 1;

    protected static bool IsWhitespace(byte b) => b is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r';

    /// <summary>
    /// The frame of a value of <paramref name="shape"/> that begins with <paramref name="b"/>, with that byte consumed;
    /// null when the value already ended with it (a one-byte enum value). False when no such value begins with it.
    /// </summary>
    protected static bool Begin(JsonShape shape, byte b, int depth, out Frame? frame)
    {
        frame = null;
        if (depth + 1 > MaxDepth) return false;
        switch (shape)
        {
            case UnionShape union:
                return union.For(b) is { } member && Begin(member, b, depth, out frame);
            case AnyShape:
                return b switch
                {
                    (byte)'{' => Begin(ObjectShape.Any, b, depth, out frame),
                    (byte)'[' => Begin(ArrayShape.Any, b, depth, out frame),
                    (byte)'"' => Begin(StringShape.Instance, b, depth, out frame),
                    (byte)'t' or (byte)'f' => Begin(LiteralShape.Boolean, b, depth, out frame),
                    (byte)'n' => Begin(LiteralShape.Null, b, depth, out frame),
                    _ => Begin(NumberShape.Real, b, depth, out frame),
                };
            case ObjectShape o when b == (byte)'{':
                frame = new ObjectFrame(o, ObjectPhase.Open, 0, 0, 0, -1, 0);
                return true;
            case ArrayShape a when b == (byte)'[':
                frame = new ArrayFrame(a, ArrayPhase.Open, 0, 0);
                return true;
            case StringShape when b == (byte)'"':
                frame = StringFrame.Of(StringLexer.Normal);
                return true;
            case NumberShape n:
                frame = NumberFrame.Start(n.Integer, b);
                return frame is not null;
            case BoundedIntegerShape bounded:
                return BoundedIntegerFrame.Start(bounded, b, out frame);
            case BoundedNumberShape bounded:
                return BoundedNumberFrame.Start(bounded, b, out frame);
            case LiteralShape l:
                foreach (var literal in l.Literals)
                    if (literal[0] == b)
                    {
                        frame = new LiteralFrame(literal, 1);
                        return true;
                    }
                return false;
            case EnumShape e:
                return EnumFrame.Start(e, b, out frame);
            default:
                return false;
        }
    }
}

internal enum DocumentStage { Prefix, Value, Suffix, Done, Between, Opening, Closing, Closed }

/// <summary>
/// The bottom of every stack: the grammar's literal prefix (a tool call's opening tag), optional whitespace, the root
/// value, the literal suffix, then nothing (the reply ends), or, while fewer than the grammar's MaxValues are written
/// (<see cref="Values"/>), its separator and another prefix, value and suffix. A grammar with an opening and a closing
/// (Mistral's call array) writes the opening once first (after whitespace, as a value may be), and may end only after
/// its closing, which follows any value.
/// <see cref="Position"/> counts bytes into a literal.
/// </summary>
internal sealed record DocumentFrame(JsonGrammar Grammar, DocumentStage Stage, int Position, int Whitespace, int Values = 0) : Frame
{
    public static DocumentFrame Start(JsonGrammar grammar) =>
        grammar.Opening.Length > 0 ? new(grammar, DocumentStage.Opening, 0, 0) : new(grammar, grammar.Prefix.Length > 0 ? DocumentStage.Prefix : DocumentStage.Value, 0, 0);

    /// <summary>The reply may end here: after the last value, or after the closing where the grammar has one.</summary>
    public bool Complete => Stage == DocumentStage.Closed || (Stage == DocumentStage.Done && Grammar.Closing.Length == 0);

    /// <summary>Another value may still follow (parallel tool calls).</summary>
    public bool MayContinue => Stage == DocumentStage.Done && Values < Grammar.MaxValues && Grammar.Between.Length > 0;

    public override FrameStep Feed(byte b, int depth)
    {
        switch (Stage)
        {
            case DocumentStage.Done:
                if (MayContinue && Grammar.Between[0] == b)
                    return FrameStep.Stay(Grammar.Between.Length == 1 ? Next() : this with { Stage = DocumentStage.Between, Position = 1 });
                if (Grammar.Closing.Length > 0 && Grammar.Closing[0] == b)
                    return FrameStep.Stay(this with { Stage = Grammar.Closing.Length == 1 ? DocumentStage.Closed : DocumentStage.Closing, Position = 1 });
                return FrameStep.Rejected;
            case DocumentStage.Opening:
                // Whitespace before the opening, as before a JSON value: a SentencePiece model's first token of a reply
                // usually carries the word-start space ("▁[").
                if (Position == 0 && IsWhitespace(b)) return Whitespace < MaxWhitespaceRun ? FrameStep.Stay(this with { Whitespace = Whitespace + 1 }) : FrameStep.Rejected;
                if (Grammar.Opening[Position] != b) return FrameStep.Rejected;
                return FrameStep.Stay(Position + 1 == Grammar.Opening.Length ? Next() : this with { Position = Position + 1 });
            case DocumentStage.Closing:
                if (Grammar.Closing[Position] != b) return FrameStep.Rejected;
                return FrameStep.Stay(this with { Stage = Position + 1 == Grammar.Closing.Length ? DocumentStage.Closed : DocumentStage.Closing, Position = Position + 1 });
            case DocumentStage.Between:
                if (Grammar.Between[Position] != b) return FrameStep.Rejected;
                return FrameStep.Stay(Position + 1 == Grammar.Between.Length ? Next() : this with { Position = Position + 1 });
            case DocumentStage.Prefix:
                if (Grammar.Prefix[Position] != b) return FrameStep.Rejected;
                return FrameStep.Stay(Position + 1 == Grammar.Prefix.Length ? this with { Stage = DocumentStage.Value, Position = 0 } : this with { Position = Position + 1 });
            case DocumentStage.Value:
                if (IsWhitespace(b)) return Whitespace < MaxWhitespaceRun ? FrameStep.Stay(this with { Whitespace = Whitespace + 1 }) : FrameStep.Rejected;
                var after = Grammar.Suffix.Length > 0 ? this with { Stage = DocumentStage.Suffix, Whitespace = 0 } : this with { Stage = DocumentStage.Done, Whitespace = 0, Values = Values + 1 };
                return Begin(Grammar.Root, b, depth, out var child) ? new FrameStep(StepKind.Open, after, child) : FrameStep.Rejected;
            case DocumentStage.Suffix:
                if (Grammar.Suffix[Position] != b) return FrameStep.Rejected;
                return FrameStep.Stay(Position + 1 == Grammar.Suffix.Length ? this with { Stage = DocumentStage.Done, Position = 0, Values = Values + 1 } : this with { Position = Position + 1 });
            default:
                return FrameStep.Rejected;
        }
    }

    /// <summary>The next value's start, after the separator.</summary>
    private DocumentFrame Next() => this with { Stage = Grammar.Prefix.Length > 0 ? DocumentStage.Prefix : DocumentStage.Value, Position = 0, Whitespace = 0 };
}

internal enum ObjectPhase { Open, Key, Colon, BeforeValue, Value, Comma }

/// <summary>
/// An object: <see cref="Seen"/> declared properties written so far; while a declared key is being written, <see cref="Live"/>
/// holds the candidates still matching its first <see cref="Position"/> bytes; <see cref="Pending"/> is the property
/// whose value comes next (-1 for an open-keys object, whose keys are strings written by a child frame).
/// </summary>
internal sealed record ObjectFrame(ObjectShape Shape, ObjectPhase Phase, ulong Seen, ulong Live, int Position, int Pending, int Whitespace) : Frame
{
    public override FrameStep Feed(byte b, int depth)
    {
        if (Phase != ObjectPhase.Key && IsWhitespace(b))
            return Whitespace < MaxWhitespaceRun ? FrameStep.Stay(this with { Whitespace = Whitespace + 1 }) : FrameStep.Rejected;
        switch (Phase)
        {
            case ObjectPhase.Open:
                if (b == (byte)'}') return Shape.Required == 0 ? FrameStep.Finished : FrameStep.Rejected;
                return b == (byte)'"' ? StartKey() : FrameStep.Rejected;
            case ObjectPhase.Comma:
                return b == (byte)'"' ? StartKey() : FrameStep.Rejected;
            case ObjectPhase.Key:
                {
                    ulong next = 0;
                    int completed = -1;
                    for (ulong live = Live; live != 0; live &= live - 1)
                    {
                        int i = System.Numerics.BitOperations.TrailingZeroCount(live);
                        var key = Shape.Properties[i].KeyBytes;
                        if (key[Position] != b) continue;
                        next |= 1UL << i;
                        if (Position + 1 == key.Length) completed = i;
                    }
                    if (next == 0) return FrameStep.Rejected;
                    // Keys end with their closing quote, which no other key has at that place: a completed key is the only match.
                    return completed >= 0
                        ? FrameStep.Stay(this with { Phase = ObjectPhase.Colon, Live = 0, Position = 0, Pending = completed, Whitespace = 0 })
                        : FrameStep.Stay(this with { Live = next, Position = Position + 1 });
                }
            case ObjectPhase.Colon:
                return b == (byte)':' ? FrameStep.Stay(this with { Phase = ObjectPhase.BeforeValue, Whitespace = 0 }) : FrameStep.Rejected;
            case ObjectPhase.BeforeValue:
                {
                    var shape = Pending >= 0 ? Shape.Properties[Pending].Value : Shape.OpenValues;
                    if (!Begin(shape, b, depth, out var child)) return FrameStep.Rejected;
                    ulong seen = Pending >= 0 ? Seen | (1UL << Pending) : Seen;
                    return new FrameStep(StepKind.Open, this with { Phase = ObjectPhase.Value, Seen = seen, Pending = -1, Whitespace = 0 }, child);
                }
            case ObjectPhase.Value:
                if (b == (byte)',')
                    return Shape.OpenKeys || (Shape.All & ~Seen) != 0 ? FrameStep.Stay(this with { Phase = ObjectPhase.Comma, Whitespace = 0 }) : FrameStep.Rejected;
                if (b == (byte)'}') return (Shape.Required & ~Seen) == 0 ? FrameStep.Finished : FrameStep.Rejected;
                return FrameStep.Rejected;
            default:
                return FrameStep.Rejected;
        }
    }

    private FrameStep StartKey()
    {
        if (Shape.OpenKeys)
            return new FrameStep(StepKind.Open, this with { Phase = ObjectPhase.Colon, Pending = -1, Whitespace = 0 }, StringFrame.Of(StringLexer.Normal));
        ulong live = Shape.All & ~Seen;
        if (Shape.Ordered) live &= ~live + 1;   // only the first property not yet written
        return live == 0 ? FrameStep.Rejected : FrameStep.Stay(this with { Phase = ObjectPhase.Key, Live = live, Position = 0, Whitespace = 0 });
    }
}

internal enum ArrayPhase { Open, Value, Comma }

/// <summary>An array with <see cref="Count"/> items so far (capped where larger counts no longer change what may follow).</summary>
internal sealed record ArrayFrame(ArrayShape Shape, ArrayPhase Phase, int Count, int Whitespace) : Frame
{
    public override FrameStep Feed(byte b, int depth)
    {
        if (IsWhitespace(b))
            return Whitespace < MaxWhitespaceRun ? FrameStep.Stay(this with { Whitespace = Whitespace + 1 }) : FrameStep.Rejected;
        switch (Phase)
        {
            case ArrayPhase.Open:
                if (b == (byte)']') return Shape.MinItems == 0 ? FrameStep.Finished : FrameStep.Rejected;
                return Shape.MaxItems == 0 ? FrameStep.Rejected : Item(b, depth);
            case ArrayPhase.Value:
                if (b == (byte)',')
                    return Shape.MaxItems < 0 || Count < Shape.MaxItems ? FrameStep.Stay(this with { Phase = ArrayPhase.Comma, Whitespace = 0 }) : FrameStep.Rejected;
                if (b == (byte)']') return Count >= Shape.MinItems ? FrameStep.Finished : FrameStep.Rejected;
                return FrameStep.Rejected;
            case ArrayPhase.Comma:
                return Item(b, depth);
            default:
                return FrameStep.Rejected;
        }
    }

    private FrameStep Item(byte b, int depth)
    {
        if (!Begin(Shape.Items, b, depth, out var child)) return FrameStep.Rejected;
        // Past max(minItems, maxItems) more items change nothing, and equal states share cached masks.
        int count = Math.Min(Count + 1, Math.Max(Shape.MinItems, Shape.MaxItems));
        return new FrameStep(StepKind.Open, this with { Phase = ArrayPhase.Value, Count = count, Whitespace = 0 }, child);
    }
}

/// <summary>Inside a string (a value or an open object's key), after its opening quote; <see cref="Lexer"/> is a <see cref="StringLexer"/> state.</summary>
internal sealed record StringFrame(int Lexer) : Frame
{
    private static readonly StringFrame[] All = Enumerable.Range(0, StringLexer.StateCount).Select(s => new StringFrame(s)).ToArray();
    public static StringFrame Of(int lexer) => All[lexer];

    public override FrameStep Feed(byte b, int depth) => StringLexer.Next(Lexer, b) switch
    {
        StringLexer.Closed => FrameStep.Finished,
        StringLexer.Rejected => FrameStep.Rejected,
        int next => FrameStep.Stay(All[next]),
    };
}

internal enum NumberPhase { Minus, Zero, Integer, Dot, Fraction, Exponent, ExponentSign, ExponentDigits }

/// <summary>A number in JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; integers stop before the fraction.</summary>
internal sealed record NumberFrame(bool IntegerOnly, NumberPhase Phase) : Frame
{
    private static readonly NumberFrame[] All = [.. Enum.GetValues<NumberPhase>().Select(p => new NumberFrame(false, p)), .. Enum.GetValues<NumberPhase>().Select(p => new NumberFrame(true, p))];
    private static NumberFrame Of(bool integerOnly, NumberPhase phase) => All[(integerOnly ? All.Length / 2 : 0) + (int)phase];

    public static NumberFrame? Start(bool integerOnly, byte b) => b switch
    {
        (byte)'-' => Of(integerOnly, NumberPhase.Minus),
        (byte)'0' => Of(integerOnly, NumberPhase.Zero),
        >= (byte)'1' and <= (byte)'9' => Of(integerOnly, NumberPhase.Integer),
        _ => null,
    };

    public override FrameStep Feed(byte b, int depth)
    {
        bool digit = b >= (byte)'0' && b <= (byte)'9';
        bool fractionOrExponent = !IntegerOnly && (b == (byte)'.' || b == (byte)'e' || b == (byte)'E');
        switch (Phase)
        {
            case NumberPhase.Minus:
                return b == (byte)'0' ? To(NumberPhase.Zero) : digit ? To(NumberPhase.Integer) : FrameStep.Rejected;
            case NumberPhase.Zero:
            case NumberPhase.Integer:
                if (digit) return Phase == NumberPhase.Integer ? To(NumberPhase.Integer) : FrameStep.Rejected;   // no leading zeros
                if (fractionOrExponent) return To(b == (byte)'.' ? NumberPhase.Dot : NumberPhase.Exponent);
                return FrameStep.Passed;
            case NumberPhase.Dot:
                return digit ? To(NumberPhase.Fraction) : FrameStep.Rejected;
            case NumberPhase.Fraction:
                if (digit) return To(NumberPhase.Fraction);
                return b is (byte)'e' or (byte)'E' ? To(NumberPhase.Exponent) : FrameStep.Passed;
            case NumberPhase.Exponent:
                return b is (byte)'+' or (byte)'-' ? To(NumberPhase.ExponentSign) : digit ? To(NumberPhase.ExponentDigits) : FrameStep.Rejected;
            case NumberPhase.ExponentSign:
                return digit ? To(NumberPhase.ExponentDigits) : FrameStep.Rejected;
            case NumberPhase.ExponentDigits:
                return digit ? To(NumberPhase.ExponentDigits) : FrameStep.Passed;
            default:
                return FrameStep.Rejected;
        }
    }

    private FrameStep To(NumberPhase phase) => FrameStep.Stay(Of(IntegerOnly, phase));
}

/// <summary>true, false or null, <see cref="Position"/> bytes in.</summary>
internal sealed record LiteralFrame(byte[] Literal, int Position) : Frame
{
    public override FrameStep Feed(byte b, int depth) =>
        Literal[Position] != b ? FrameStep.Rejected
        : Position + 1 == Literal.Length ? FrameStep.Finished
        : FrameStep.Stay(this with { Position = Position + 1 });
}

/// <summary>One of an enum's values: <see cref="Live"/> are the values whose first <see cref="Position"/> bytes were written.</summary>
internal sealed record EnumFrame(EnumShape Shape, ulong Live, int Position) : Frame
{
    public static bool Start(EnumShape shape, byte b, out Frame? frame)
    {
        frame = null;
        ulong live = 0;
        for (int i = 0; i < shape.Literals.Length; i++) if (shape.Literals[i][0] == b) live |= 1UL << i;
        if (live == 0) return false;
        frame = AllEnd(shape, live, 1) ? null : new EnumFrame(shape, live, 1);
        return true;
    }

    public override FrameStep Feed(byte b, int depth)
    {
        ulong next = 0;
        bool complete = false;
        for (ulong live = Live; live != 0; live &= live - 1)
        {
            int i = System.Numerics.BitOperations.TrailingZeroCount(live);
            var literal = Shape.Literals[i];
            if (literal.Length == Position) complete = true;
            else if (literal[Position] == b) next |= 1UL << i;
        }
        if (next != 0) return AllEnd(Shape, next, Position + 1) ? FrameStep.Finished : FrameStep.Stay(this with { Live = next, Position = Position + 1 });
        // A value that is a prefix of another (1 and 12) ends when the next byte continues neither.
        return complete ? FrameStep.Passed : FrameStep.Rejected;
    }

    private static bool AllEnd(EnumShape shape, ulong live, int position)
    {
        for (; live != 0; live &= live - 1)
            if (shape.Literals[System.Numerics.BitOperations.TrailingZeroCount(live)].Length != position) return false;
        return true;
    }
}

/// <summary>An integer within bounds: its sign and the magnitude of its digits so far (<see cref="Digits"/> of them).</summary>
internal sealed record BoundedIntegerFrame(BoundedIntegerShape Shape, bool Negative, decimal Magnitude, int Digits) : Frame
{
    public static bool Start(BoundedIntegerShape shape, byte b, out Frame? frame)
    {
        frame = null;
        if (b == (byte)'-')
        {
            if (shape.Minimum > 0) return false;
            frame = new BoundedIntegerFrame(shape, true, 0, 0);
            return true;
        }
        if (b < (byte)'0' || b > (byte)'9') return false;
        var first = new BoundedIntegerFrame(shape, false, b - '0', 1);
        if (!shape.Viable(false, first.Magnitude, mayExtend: b != (byte)'0')) return false;
        frame = first;
        return true;
    }

    public override FrameStep Feed(byte b, int depth)
    {
        bool leadingZero = Digits == 1 && Magnitude == 0;
        if (b >= (byte)'0' && b <= (byte)'9' && !leadingZero && Digits < 19)
        {
            decimal magnitude = Magnitude * 10 + (b - '0');
            bool mayExtend = !(Digits == 0 && b == (byte)'0');
            return Shape.Viable(Negative, magnitude, mayExtend) ? FrameStep.Stay(this with { Magnitude = magnitude, Digits = Digits + 1 }) : FrameStep.Rejected;
        }
        // The number ends before this byte: only if it has digits and lies in range.
        return Digits > 0 && Shape.InRange(Negative, Magnitude) ? FrameStep.Passed : FrameStep.Rejected;
    }
}

/// <summary>
/// A plain decimal within bounds: its sign, the magnitude of its digits so far, how many digits before the point, and
/// how many after it (-1 before a point).
/// </summary>
internal sealed record BoundedNumberFrame(BoundedNumberShape Shape, bool Negative, decimal Magnitude, int IntegerDigits, int FractionDigits) : Frame
{
    public static bool Start(BoundedNumberShape shape, byte b, out Frame? frame)
    {
        frame = null;
        if (b == (byte)'-')
        {
            if (!shape.CanStartWith(b)) return false;
            frame = new BoundedNumberFrame(shape, true, 0, 0, -1);
            return true;
        }
        if (b < (byte)'0' || b > (byte)'9') return false;
        var first = new BoundedNumberFrame(shape, false, b - '0', 1, -1);
        if (!first.Viable()) return false;
        frame = first;
        return true;
    }

    public override FrameStep Feed(byte b, int depth)
    {
        bool digit = b >= (byte)'0' && b <= (byte)'9';
        BoundedNumberFrame? next = null;
        if (digit && FractionDigits < 0 && !(IntegerDigits == 1 && Magnitude == 0) && IntegerDigits < BoundedNumberShape.MaxDigits)
            next = this with { Magnitude = Magnitude * 10 + (b - '0'), IntegerDigits = IntegerDigits + 1 };
        else if (digit && FractionDigits >= 0 && FractionDigits < BoundedNumberShape.MaxDigits)
            next = this with { Magnitude = Magnitude + (b - '0') * Scale(FractionDigits + 1), FractionDigits = FractionDigits + 1 };
        else if (b == (byte)'.' && IntegerDigits > 0 && FractionDigits < 0)
            next = this with { FractionDigits = 0 };
        if (next is not null) return next.Viable() ? FrameStep.Stay(next) : FrameStep.Rejected;
        // The number ends before this byte: only if it is complete (digits, none pending after a point) and in range.
        return IntegerDigits > 0 && FractionDigits != 0 && Shape.Contains(Negative ? -Magnitude : Magnitude) ? FrameStep.Passed : FrameStep.Rejected;
    }

    private static decimal Scale(int fractionDigits)
    {
        decimal scale = 1;
        for (int i = 0; i < fractionDigits; i++) scale /= 10;
        return scale;
    }

    /// <summary>Whether a number in range begins with what was written: its magnitude lies in one of the ranges the digits can still reach.</summary>
    private bool Viable()
    {
        if (IntegerDigits == 0) return Shape.CanStartWith((byte)'-');
        if (FractionDigits >= 0)
        {
            // Digits after the point add less than one unit of the last one written (none if no more may be written).
            decimal unit = FractionDigits < BoundedNumberShape.MaxDigits ? Scale(FractionDigits) : 0;
            return Reaches(Magnitude, Magnitude + unit, unit > 0);
        }
        if (IntegerDigits == 1 && Magnitude == 0) return Reaches(0, 1, true);         // 0 or 0.xxx
        // k more integer digits, then any fraction: [m * 10^k, (m + 1) * 10^k).
        decimal scale = 1;
        for (int k = 0; IntegerDigits + k <= BoundedNumberShape.MaxDigits; k++, scale *= 10)
            if (Reaches(Magnitude * scale, (Magnitude + 1) * scale, true)) return true;
        return false;
    }

    /// <summary>Whether some allowed number has a magnitude in [low, high) (or exactly low when the range is empty).</summary>
    private bool Reaches(decimal low, decimal high, bool open) =>
        Shape.Overlaps(Negative
            ? new ValueRange(-high, open, -low, false)
            : new ValueRange(low, false, high, open));
}
