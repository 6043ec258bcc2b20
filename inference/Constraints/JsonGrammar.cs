using SpecEdge.Inference.Tokenization;
using System.Collections.Concurrent;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace SpecEdge.Inference.Constraints;

/// <summary>
/// What a constrained reply must be: one JSON object, either any object (<see cref="AnyObject"/>, OpenAI's
/// <c>json_object</c>) or one that a JSON Schema describes (<see cref="FromSchema"/>, <c>json_schema</c>).
/// </summary>
/// <remarks>
/// The schema subset, and what the grammar generates for it (every reply it allows is valid against the schema; it
/// does not allow every valid document):
/// <list type="bullet">
/// <item><c>type</c> (a name or a list): object, array, string, number, integer, boolean, null. A list must be told
/// apart by the first byte (so not two object types); number and integer together are number.</item>
/// <item><c>properties</c>, <c>required</c>: declared keys only, each at most once, in any order; required ones before
/// the object closes. <c>additionalProperties</c> without <c>properties</c>: false allows only {}, a schema constrains
/// the values of any keys. With <c>properties</c>, extra keys are never generated.</item>
/// <item><c>items</c>, <c>minItems</c>, <c>maxItems</c>; <c>enum</c> and <c>const</c> (values written as compact JSON);
/// <c>anyOf</c> whose branches differ in their first byte.</item>
/// <item><c>minimum</c>, <c>maximum</c>, <c>exclusiveMinimum</c>, <c>exclusiveMaximum</c> on an integer or a number: exact,
/// digit by digit (zod writes the safe-integer range on every <c>.int()</c>). A bounded number is written as a plain
/// decimal (no exponent, at most 12 digits either side of the point); without a type, bounds generate a number.</item>
/// <item>Without <c>type</c>, object keywords (properties, required, additionalProperties) generate an object and array
/// keywords (items, minItems, maxItems) an array, bounds a number; a schema with none of them allows any value.</item>
/// <item>Annotations are ignored: title, description, default, examples, format (an annotation in JSON Schema 2020-12),
/// $schema, $id, $comment, deprecated, readOnly, writeOnly.</item>
/// <item>Anything else ($ref, pattern, minLength, multipleOf, oneOf, allOf, not, if/then/else...) is refused by name.</item>
/// </list>
/// The root must be an object, as OpenAI's structured outputs require. Integers are written without a fraction;
/// strings are well-formed UTF-8 with JSON's escapes; at most one whitespace character separates tokens, and nesting
/// is bounded (see <see cref="Frame"/>).
/// </remarks>
public sealed class JsonGrammar
{
    /// <summary>Largest schema text accepted, in bytes.</summary>
    public const int MaxSchemaBytes = 64 * 1024;
    /// <summary>Deepest schema nesting (properties, items, anyOf) accepted.</summary>
    public const int MaxSchemaDepth = 16;
    /// <summary>Most shapes one schema compiles to.</summary>
    public const int MaxShapes = 2048;

    private static readonly ConcurrentDictionary<string, JsonGrammar> Compiled = new(StringComparer.Ordinal);
    private const int MaxCompiled = 512;

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "default", "examples", "format", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly",
    };

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, WriteIndented = false };

    public JsonShape Root { get; }
    /// <summary>The schema text this grammar was compiled from; null for <see cref="AnyObject"/> and tool calls.</summary>
    public string? Schema { get; }
    /// <summary>Bytes before and after the root value (a tool call's tags); empty for plain JSON.</summary>
    public byte[] Prefix { get; }
    public byte[] Suffix { get; }
    /// <summary>
    /// How many values (prefix, value, suffix) the reply may hold, one after another with <see cref="Between"/> between
    /// them: 1 for a JSON reply or a single call; more for parallel tool calls.
    /// </summary>
    public int MaxValues { get; }
    public byte[] Between { get; }
    /// <summary>Bytes once before the first value and once after the last (Mistral's "[TOOL_CALLS][" and "]"); empty for the rest.</summary>
    public byte[] Opening { get; }
    public byte[] Closing { get; }

    private JsonGrammar(JsonShape root, string? schema, byte[]? prefix = null, byte[]? suffix = null, int maxValues = 1, byte[]? between = null,
        byte[]? opening = null, byte[]? closing = null)
    {
        Opening = opening ?? [];
        Closing = closing ?? [];
        Root = root;
        Schema = schema;
        Prefix = prefix ?? [];
        Suffix = suffix ?? [];
        MaxValues = maxValues;
        Between = between ?? [];
    }

    /// <summary>
    /// Function calls as <paramref name="syntax"/> writes them: its opening, then up to <paramref name="maxCalls"/> calls
    /// (prefix, {"name": one of the tools' names, its arguments key: an object}, suffix), separated as it separates them,
    /// then its closing. With one tool its parameters schema (the same subset as <see cref="FromSchema"/>; an object)
    /// constrains the arguments; with several, any object does (their schemas cannot be told apart by a first byte).
    /// Compiled once per distinct set.
    /// </summary>
    /// <exception cref="ArgumentException">A parameters schema is outside the subset or not an object; the message names it.</exception>
    public static JsonGrammar ToolCall(IReadOnlyList<(string Name, string? Parameters)> tools, ToolCallSyntax syntax, int maxCalls = 1)
    {
        string open = syntax.Prefix, close = syntax.Suffix;
        if (tools.Count == 0 || tools.Count > EnumShape.MaxValues) throw new ArgumentException($"A tool call needs 1 to {EnumShape.MaxValues} tools.", nameof(tools));
        if (maxCalls < 1) throw new ArgumentOutOfRangeException(nameof(maxCalls), maxCalls, "At least one call.");
        string key = "tool-call\u0000" + maxCalls + "\u0000" + syntax.Opening + "\u0000" + open + "\u0000" + close + "\u0000" + syntax.Between + "\u0000"
            + syntax.Closing + "\u0000" + syntax.ArgumentsKey + "\u0000" + string.Join("\u0000", tools.Select(t => t.Name + "\u0000" + t.Parameters));
        if (Compiled.TryGetValue(key, out var known)) return known;
        JsonShape arguments = ObjectShape.Any;
        if (tools.Count == 1 && tools[0].Parameters is { } parameters)
        {
            arguments = FromSchema(parameters).Root;
        }
        var names = new EnumShape(tools.Select(t => JsonSerializer.SerializeToUtf8Bytes(t.Name, Compact)).ToArray());
        var call = new ObjectShape([new PropertyShape("name", "name\""u8.ToArray(), names), new PropertyShape(syntax.ArgumentsKey, System.Text.Encoding.UTF8.GetBytes(syntax.ArgumentsKey + "\""), arguments)],
            required: 0b11, openKeys: false, ordered: true);
        // Parallel calls follow one another as the chat template writes several calls (Qwen: on new lines; Mistral: in an array).
        var utf8 = System.Text.Encoding.UTF8;
        var grammar = new JsonGrammar(call, null, utf8.GetBytes(open), utf8.GetBytes(close), maxCalls, utf8.GetBytes(syntax.Between),
            utf8.GetBytes(syntax.Opening), utf8.GetBytes(syntax.Closing));
        if (Compiled.Count >= MaxCompiled) Compiled.Clear();
        return Compiled.GetOrAdd(key, grammar);
    }

    /// <summary>Any JSON object (OpenAI's <c>json_object</c> response format).</summary>
    public static JsonGrammar AnyObject { get; } = new(ObjectShape.Any, null);

    public GrammarState Start() => GrammarState.Start(this);

    /// <summary>
    /// The grammar of <paramref name="schema"/> (JSON Schema text), compiled once per distinct text.
    /// </summary>
    /// <exception cref="ArgumentException">The text is not JSON, too large, or uses something outside the subset; the message names it.</exception>
    public static JsonGrammar FromSchema(string schema)
    {
        ArgumentNullException.ThrowIfNull(schema);
        if (Compiled.TryGetValue(schema, out var known)) return known;
        if (Encoding.UTF8.GetByteCount(schema) > MaxSchemaBytes)
            throw new ArgumentException($"The JSON schema is larger than {MaxSchemaBytes / 1024} KB.", nameof(schema));
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(schema, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"The JSON schema is not valid JSON: {e.Message}", nameof(schema));
        }
        using (document)
        {
            int shapes = 0;
            var root = Shape(document.RootElement, "schema", 0, ref shapes);
            if (root is not ObjectShape)
                throw new ArgumentException("The root of the JSON schema must be an object ('type': 'object').", nameof(schema));
            var grammar = new JsonGrammar(root, schema);
            // A bounded memo: a caller sending endless distinct schemas costs itself compiles, never the silo's memory.
            if (Compiled.Count >= MaxCompiled) Compiled.Clear();
            return Compiled.GetOrAdd(schema, grammar);
        }
    }

    private static JsonShape Shape(JsonElement schema, string at, int depth, ref int shapes)
    {
        if (depth > MaxSchemaDepth) throw Refuse(at, $"nests deeper than {MaxSchemaDepth} levels");
        if (++shapes > MaxShapes) throw Refuse(at, $"makes the schema larger than {MaxShapes} parts");
        if (schema.ValueKind == JsonValueKind.True) return AnyShape.Instance;
        if (schema.ValueKind != JsonValueKind.Object) throw Refuse(at, "is not a schema object");

        foreach (var keyword in schema.EnumerateObject())
        {
            if (Annotations.Contains(keyword.Name)) continue;
            if (keyword.Name is not ("type" or "properties" or "required" or "additionalProperties" or "items" or "minItems" or "maxItems" or "enum" or "const" or "anyOf"
                or "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum"))
                throw Refuse(at, $"uses '{keyword.Name}', which constrained decoding does not support (supported: type, properties, required, " +
                    "additionalProperties, items, minItems, maxItems, enum, const, anyOf, minimum, maximum, exclusiveMinimum, exclusiveMaximum; annotations such as description are ignored)");
            if (keyword.Name is "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum" && Types(schema, at) is { } typed && typed is not (["integer"] or ["number"]))
                throw Refuse(at, $"uses '{keyword.Name}' with a type list; bounds are supported on an integer or a number schema");
        }

        if (schema.TryGetProperty("anyOf", out var anyOf))
        {
            if (schema.EnumerateObject().Any(k => !Annotations.Contains(k.Name) && k.Name != "anyOf"))
                throw Refuse(at, "combines 'anyOf' with other keywords; put them inside each branch");
            if (anyOf.ValueKind != JsonValueKind.Array || anyOf.GetArrayLength() == 0) throw Refuse(at + ".anyOf", "must be a non-empty array");
            if (anyOf.GetArrayLength() > MaxAlternatives) throw Refuse(at + ".anyOf", $"has more than {MaxAlternatives} alternatives");
            int s = shapes;
            var branches = anyOf.EnumerateArray().Select((b, i) => Shape(b, $"{at}.anyOf[{i}]", depth + 1, ref s)).ToList();
            shapes = s;
            return Union(branches, at + ".anyOf");
        }

        var types = Types(schema, at);
        if (schema.TryGetProperty("enum", out var list) || schema.TryGetProperty("const", out list))
        {
            var values = list.ValueKind == JsonValueKind.Array && !schema.TryGetProperty("const", out _) ? list.EnumerateArray().ToList()
                : schema.TryGetProperty("const", out var single) ? [single]
                : throw Refuse(at + ".enum", "must be an array");
            if (schema.TryGetProperty("enum", out _) && schema.TryGetProperty("const", out _)) throw Refuse(at, "has both 'enum' and 'const'");
            // enum and type both apply: keep the values of an allowed type.
            var literals = values.Where(v => types is null || types.Any(t => IsOfType(v, t)))
                .Select(v => JsonSerializer.SerializeToUtf8Bytes(v, Compact)).DistinctBy(Convert.ToBase64String).ToArray();
            if (literals.Length == 0) throw Refuse(at, "allows no value (its enum has no value of its type)");
            if (literals.Length > EnumShape.MaxValues) throw Refuse(at + ".enum", $"lists more than {EnumShape.MaxValues} values");
            return new EnumShape(literals);
        }

        // Without a type, keywords of one type constrain only values of that type (anything else is valid): generating
        // that type alone keeps every reply valid (found by the JSON Schema Test Suite: {"minItems": 1} once allowed []).
        bool Has(params string[] keywords) => keywords.Any(k => schema.TryGetProperty(k, out _));
        types ??= Has("properties", "required", "additionalProperties") ? ["object"]
            : Has("items", "minItems", "maxItems") ? ["array"]
            : Has("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum") ? ["number"] : null;
        if (types is null) return AnyShape.Instance;
        int count = shapes;
        var members = types.Select(t => Typed(schema, t, at, depth, ref count)).ToList();
        shapes = count;
        return Union(members, at + ".type");
    }

    private static JsonShape Typed(JsonElement schema, string type, string at, int depth, ref int shapes) => type switch
    {
        "object" => Object(schema, at, depth, ref shapes),
        "array" => Array(schema, at, depth, ref shapes),
        "string" => StringShape.Instance,
        "number" => Number(schema, at),
        "integer" => Integer(schema, at),
        "boolean" => LiteralShape.Boolean,
        "null" => LiteralShape.Null,
        _ => throw Refuse(at + ".type", $"names '{type}', which is not a JSON Schema type"),
    };

    private static ObjectShape Object(JsonElement schema, string at, int depth, ref int shapes)
    {
        var properties = new List<PropertyShape>();
        if (schema.TryGetProperty("properties", out var declared))
        {
            if (declared.ValueKind != JsonValueKind.Object) throw Refuse(at + ".properties", "must be an object");
            foreach (var p in declared.EnumerateObject())
            {
                if (properties.Count == ObjectShape.MaxProperties) throw Refuse(at + ".properties", $"declares more than {ObjectShape.MaxProperties} properties");
                // The key's bytes after its opening quote: the name as compact JSON writes it, without the leading quote.
                var key = JsonSerializer.SerializeToUtf8Bytes(p.Name, Compact)[1..];
                properties.Add(new PropertyShape(p.Name, key, Shape(p.Value, $"{at}.properties.{p.Name}", depth + 1, ref shapes)));
            }
        }
        ulong required = 0;
        if (schema.TryGetProperty("required", out var names))
        {
            if (names.ValueKind != JsonValueKind.Array) throw Refuse(at + ".required", "must be an array of property names");
            foreach (var name in names.EnumerateArray())
            {
                int index = name.ValueKind == JsonValueKind.String ? properties.FindIndex(p => p.Name == name.GetString()) : -1;
                if (index < 0) throw Refuse(at + ".required", $"names {name.GetRawText()}, which is not in 'properties'");
                required |= 1UL << index;
            }
        }
        if (properties.Count > 0) return new ObjectShape(properties, required, openKeys: false);
        if (!schema.TryGetProperty("additionalProperties", out var extra) || extra.ValueKind == JsonValueKind.True)
            return new ObjectShape(properties, 0, openKeys: true);
        if (extra.ValueKind == JsonValueKind.False) return new ObjectShape(properties, 0, openKeys: false);
        return new ObjectShape(properties, 0, openKeys: true, Shape(extra, at + ".additionalProperties", depth + 1, ref shapes));
    }

    private static ArrayShape Array(JsonElement schema, string at, int depth, ref int shapes)
    {
        var items = schema.TryGetProperty("items", out var itemSchema) ? Shape(itemSchema, at + ".items", depth + 1, ref shapes) : AnyShape.Instance;
        int min = Count(schema, "minItems", at) ?? 0;
        int max = Count(schema, "maxItems", at) ?? -1;
        if (max >= 0 && max < min) throw Refuse(at, $"has maxItems {max} below minItems {min}");
        return new ArrayShape(items, min, max);
    }

    /// <summary>Most items minItems or maxItems may name: larger bounds are not a format, they are a reply length.</summary>
    public const int MaxItemsBound = 4096;

    private static int? Count(JsonElement schema, string keyword, string at)
    {
        if (!schema.TryGetProperty(keyword, out var value)) return null;
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out int n) || n < 0 || n > MaxItemsBound)
            throw Refuse($"{at}.{keyword}", $"must be an integer in [0, {MaxItemsBound}]");
        return n;
    }

    private static string[]? Types(JsonElement schema, string at)
    {
        if (!schema.TryGetProperty("type", out var type)) return null;
        string[] types = type.ValueKind switch
        {
            JsonValueKind.String => [type.GetString()!],
            JsonValueKind.Array when type.GetArrayLength() > 0 && type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String) =>
                type.EnumerateArray().Select(t => t.GetString()!).Distinct().ToArray(),
            _ => throw Refuse(at + ".type", "must be a type name or a non-empty array of them"),
        };
        // number covers integer.
        return types.Contains("number") ? types.Where(t => t != "integer").ToArray() : types;
    }

    private static bool IsOfType(JsonElement value, string type) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out var d) && d == decimal.Truncate(d),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => false,
    };

    /// <summary>A number, bounded when the schema says so (the tighter of a bound and its exclusive form applies).</summary>
    private static JsonShape Number(JsonElement schema, string at)
    {
        (decimal? Value, bool Exclusive) Bound(string inclusive, string exclusive, bool lower)
        {
            decimal? Read(string keyword) => !schema.TryGetProperty(keyword, out var v) ? null
                : v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out var d) ? d : throw Refuse($"{at}.{keyword}", "must be a number");
            var (i, e) = (Read(inclusive), Read(exclusive));
            if (i is null) return (e, e is not null);
            if (e is null) return (i, false);
            return lower ? (e >= i ? (e, true) : (i, false)) : (e <= i ? (e, true) : (i, false));
        }
        var (min, minExclusive) = Bound("minimum", "exclusiveMinimum", lower: true);
        var (max, maxExclusive) = Bound("maximum", "exclusiveMaximum", lower: false);
        if (min is null && max is null) return NumberShape.Real;
        decimal reach = 1_000_000_000_000m;     // BoundedNumberShape.MaxDigits integer digits
        if (min >= reach || max <= -reach) throw Refuse(at, $"bounds a number beyond +-{reach}; use an integer schema for such values");
        var shape = new BoundedNumberShape(min, minExclusive, max, maxExclusive);
        if (min is not null && max is not null && !shape.Overlaps(new ValueRange(min, false, max, false)))
            throw Refuse(at, $"allows no number (minimum {min} above maximum {max})");
        return shape;
    }

    /// <summary>An integer, bounded when the schema says so (exclusive bounds become inclusive ones).</summary>
    private static JsonShape Integer(JsonElement schema, string at)
    {
        long? Bound(string keyword, int shift)
        {
            if (!schema.TryGetProperty(keyword, out var value)) return null;
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var d)) throw Refuse($"{at}.{keyword}", "must be a number");
            // The nearest integer inside the bound: ceiling for a lower bound, floor for an upper one, then past an exclusive one.
            decimal inside = shift >= 0 ? decimal.Ceiling(d) : decimal.Floor(d);
            if (keyword.StartsWith("exclusive", StringComparison.Ordinal) && inside == d) inside += shift >= 0 ? 1 : -1;
            return inside < long.MinValue ? long.MinValue : inside > long.MaxValue ? long.MaxValue : (long)inside;
        }
        long? min = new[] { Bound("minimum", 1), Bound("exclusiveMinimum", 1) }.Max();
        long? max = new[] { Bound("maximum", -1), Bound("exclusiveMaximum", -1) }.Where(b => b is not null).Min();
        if (min is null && max is null) return NumberShape.Integral;
        if (min > max) throw Refuse(at, $"allows no integer (minimum {min} is above maximum {max})");
        return new BoundedIntegerShape(min ?? long.MinValue, max ?? long.MaxValue);
    }

    /// <summary>Most alternatives one type list or anyOf may have (distinct first characters leave room for few anyway).</summary>
    public const int MaxAlternatives = 16;

    /// <summary>One shape, or a union of several that the first byte of a value tells apart.</summary>
    private static JsonShape Union(List<JsonShape> members, string at)
    {
        if (members.Count == 1) return members[0];
        if (members.Count > MaxAlternatives) throw Refuse(at, $"has more than {MaxAlternatives} alternatives");
        for (int b = 0; b < 256; b++)
            if (members.Count(m => m.CanStartWith((byte)b)) > 1)
                throw Refuse(at, $"has alternatives that can both begin with '{(char)b}'; they must differ in their first character (for example one object and one null)");
        return new UnionShape(members);
    }

    private static ArgumentException Refuse(string at, string problem) => new($"The JSON schema at '{at}' {problem}.", "schema");
}
