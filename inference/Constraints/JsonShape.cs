namespace SpecEdge.Inference.Constraints;

/// <summary>
/// What a JSON value may be, compiled from a schema (<see cref="JsonGrammar"/>). Shapes are plain classes compared by
/// reference: a grammar's matcher states point into its shapes, so two states are equal only within one grammar.
/// </summary>
public abstract class JsonShape
{
    /// <summary>Whether a value of this shape can begin with <paramref name="b"/>; unions are checked to be unambiguous with it.</summary>
    public abstract bool CanStartWith(byte b);
}

/// <summary>Any JSON value (json_object's values, and an object schema that declares no properties).</summary>
public sealed class AnyShape : JsonShape
{
    public static readonly AnyShape Instance = new();
    private AnyShape() { }
    public override bool CanStartWith(byte b) => b is (byte)'{' or (byte)'[' or (byte)'"' or (byte)'-' or (>= (byte)'0' and <= (byte)'9') or (byte)'t' or (byte)'f' or (byte)'n';
}

/// <summary>
/// An object. With declared <see cref="Properties"/> only those keys are generated (each at most once, in any order;
/// <see cref="Required"/> ones before the object closes). With none, and <see cref="OpenKeys"/>, any keys with any values.
/// </summary>
public sealed class ObjectShape(IReadOnlyList<PropertyShape> properties, ulong required, bool openKeys, JsonShape? openValues = null, bool ordered = false) : JsonShape
{
    /// <summary>
    /// The declared properties come in their declared order, each once (a tool call: its name before its arguments, as
    /// the chat templates write calls and as a streamed call must name its function before its arguments arrive).
    /// </summary>
    public bool Ordered { get; } = ordered;
    /// <summary>Most properties one object may declare: the matcher tracks them in one 64-bit mask.</summary>
    public const int MaxProperties = 64;
    public static readonly ObjectShape Any = new([], 0, openKeys: true);
    public IReadOnlyList<PropertyShape> Properties { get; } = properties;
    /// <summary>Bit i set: property i must appear.</summary>
    public ulong Required { get; } = required;
    public bool OpenKeys { get; } = openKeys;
    /// <summary>The values of an open-keys object (additionalProperties as a schema; any value by default).</summary>
    public JsonShape OpenValues { get; } = openValues ?? AnyShape.Instance;
    /// <summary>Bit i set for every declared property.</summary>
    public ulong All { get; } = properties.Count == 64 ? ulong.MaxValue : (1UL << properties.Count) - 1;
    public override bool CanStartWith(byte b) => b == (byte)'{';
}

/// <summary>One declared property: its key as the bytes that follow the opening quote (escaped name, closing quote).</summary>
public sealed class PropertyShape(string name, byte[] keyBytes, JsonShape value)
{
    public string Name { get; } = name;
    public byte[] KeyBytes { get; } = keyBytes;
    public JsonShape Value { get; } = value;
}

/// <summary>An array of <see cref="Items"/>, with at least <see cref="MinItems"/> and at most <see cref="MaxItems"/> (-1: no limit).</summary>
public sealed class ArrayShape(JsonShape items, int minItems, int maxItems) : JsonShape
{
    public static readonly ArrayShape Any = new(AnyShape.Instance, 0, -1);
    public JsonShape Items { get; } = items;
    public int MinItems { get; } = minItems;
    public int MaxItems { get; } = maxItems;
    public override bool CanStartWith(byte b) => b == (byte)'[';
}

public sealed class StringShape : JsonShape
{
    public static readonly StringShape Instance = new();
    private StringShape() { }
    public override bool CanStartWith(byte b) => b == (byte)'"';
}

/// <summary>A number; <see cref="Integer"/>: written without fraction or exponent.</summary>
public sealed class NumberShape : JsonShape
{
    public static readonly NumberShape Real = new(false), Integral = new(true);
    private NumberShape(bool integer) => Integer = integer;
    public bool Integer { get; }
    public override bool CanStartWith(byte b) => b is (byte)'-' or (>= (byte)'0' and <= (byte)'9');
}

/// <summary>
/// An integer in [<see cref="Minimum"/>, <see cref="Maximum"/>] (minimum/maximum, or their exclusive forms, on an
/// integer schema: zod writes the safe-integer range for every <c>.int()</c>). Digits are allowed only while some
/// integer in the range still begins with them.
/// </summary>
public sealed class BoundedIntegerShape(long minimum, long maximum) : JsonShape
{
    public long Minimum { get; } = minimum;
    public long Maximum { get; } = maximum;
    public override bool CanStartWith(byte b) => b == (byte)'-' ? Minimum <= 0 : b >= (byte)'0' && b <= (byte)'9';

    /// <summary>Whether an integer in range is <paramref name="magnitude"/> itself or a longer number beginning with its digits.</summary>
    public bool Viable(bool negative, decimal magnitude, bool mayExtend)
    {
        if (InRange(negative, magnitude)) return true;
        if (!mayExtend) return false;
        // Numbers that begin with these digits and have k more: [m * 10^k, (m + 1) * 10^k - 1] in magnitude.
        decimal scale = 1;
        for (int k = 1; k <= 19; k++)
        {
            scale *= 10;
            decimal low = magnitude * scale, high = (magnitude + 1) * scale - 1;
            (decimal from, decimal to) = negative ? (-high, -low) : (low, high);
            if (from <= Maximum && to >= Minimum) return true;
        }
        return false;
    }

    public bool InRange(bool negative, decimal magnitude)
    {
        decimal value = negative ? -magnitude : magnitude;
        return value >= Minimum && value <= Maximum;
    }
}

/// <summary>true or false, or null: literals.</summary>
public sealed class LiteralShape : JsonShape
{
    public static readonly LiteralShape Boolean = new("true"u8.ToArray(), "false"u8.ToArray());
    public static readonly LiteralShape Null = new("null"u8.ToArray());
    private LiteralShape(params byte[][] literals) => Literals = literals;
    public byte[][] Literals { get; }
    public override bool CanStartWith(byte b) => Literals.Any(l => l[0] == b);
}

/// <summary>One of a fixed list of values (enum, const), each written as its compact JSON text.</summary>
public sealed class EnumShape(byte[][] literals) : JsonShape
{
    /// <summary>Most values one enum may list: the matcher tracks the live candidates in one 64-bit mask.</summary>
    public const int MaxValues = 64;
    public byte[][] Literals { get; } = literals;
    public override bool CanStartWith(byte b) => Literals.Any(l => l[0] == b);
}

/// <summary>A value of one of several shapes (a type list), told apart by the first byte.</summary>
public sealed class UnionShape(IReadOnlyList<JsonShape> members) : JsonShape
{
    public IReadOnlyList<JsonShape> Members { get; } = members;
    public JsonShape? For(byte b)
    {
        foreach (var m in Members) if (m.CanStartWith(b)) return m;
        return null;
    }
    public override bool CanStartWith(byte b) => For(b) is not null;
}

/// <summary>
/// A number within bounds (minimum/maximum and their exclusive forms on a number schema), written as a plain decimal
/// (no exponent) with at most <see cref="MaxDigits"/> digits before and after the point. Digits are allowed only while
/// some number in range still begins with them.
/// </summary>
public sealed class BoundedNumberShape(decimal? minimum, bool minimumExclusive, decimal? maximum, bool maximumExclusive) : JsonShape
{
    /// <summary>Most digits on either side of the decimal point (decimal arithmetic keeps them exact).</summary>
    public const int MaxDigits = 12;
    public decimal? Minimum { get; } = minimum;
    public bool MinimumExclusive { get; } = minimumExclusive;
    public decimal? Maximum { get; } = maximum;
    public bool MaximumExclusive { get; } = maximumExclusive;

    // A minus sign leads to the values in (-inf, 0] (-0 is 0).
    public override bool CanStartWith(byte b) => b == (byte)'-' ? Overlaps(new ValueRange(null, false, 0, false)) : b >= (byte)'0' && b <= (byte)'9';

    public bool Contains(decimal value) =>
        (Minimum is not { } min || value > min || value == min && !MinimumExclusive)
        && (Maximum is not { } max || value < max || value == max && !MaximumExclusive);

    /// <summary>Whether some allowed number lies in <paramref name="range"/>.</summary>
    public bool Overlaps(ValueRange range)
    {
        // The intersection's ends: the higher low end and the lower high end (open if either is open there).
        var (low, lowOpen) = Higher(range.Low, range.LowOpen, Minimum, MinimumExclusive);
        var (high, highOpen) = Lower(range.High, range.HighOpen, Maximum, MaximumExclusive);
        if (low is null || high is null) return true;
        return low < high || low == high && !lowOpen && !highOpen;
    }

    private static (decimal?, bool) Higher(decimal? a, bool aOpen, decimal? b, bool bOpen) =>
        a is null ? (b, bOpen) : b is null ? (a, aOpen) : a > b ? (a, aOpen) : b > a ? (b, bOpen) : (a, aOpen || bOpen);

    private static (decimal?, bool) Lower(decimal? a, bool aOpen, decimal? b, bool bOpen) =>
        a is null ? (b, bOpen) : b is null ? (a, aOpen) : a < b ? (a, aOpen) : b < a ? (b, bOpen) : (a, aOpen || bOpen);
}

/// <summary>An interval of numbers; a null end is unbounded.</summary>
public readonly record struct ValueRange(decimal? Low, bool LowOpen, decimal? High, bool HighOpen);
