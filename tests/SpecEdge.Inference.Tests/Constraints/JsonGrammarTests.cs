using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;
using SpecEdge.Inference.Constraints;
using SpecEdge.Inference.Tokenization;
using Xunit;

namespace SpecEdge.Inference.Tests.Constraints;

/// <summary>
/// The grammar against independent oracles: JsonSchema.Net for schemas and System.Text.Json for JSON itself. Every
/// document the grammar completes is valid; every valid document in the grammar's documented subset (declared keys
/// only, integers without fractions) is completed; every prefix of an accepted document is a live state.
/// </summary>
[Trait("Kind", "unit")]
public class JsonGrammarTests
{
    public static readonly string[] Schemas =
    [
        """{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"name":{"type":"string","description":"who"},"age":{"type":"integer"},"email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"type":"string"},"maxItems":3},"kind":{"enum":["a","b","c d"]},"score":{"type":"number"},"ok":{"type":"boolean"},"note":{"type":["string","null"]}},"required":["name","age","kind"],"additionalProperties":false}""",
        """{"type":"object","properties":{"items":{"type":"array","minItems":1,"items":{"type":"object","properties":{"id":{"type":"integer"},"value":{"anyOf":[{"type":"number"},{"type":"null"}]}},"required":["id"]}},"meta":{"type":"object","additionalProperties":{"type":"integer"}}},"required":["items"]}""",
        """{"type":"object","properties":{"n":{"enum":[1,12,123,"x",true,null,{"a":1},[1,2]]},"c":{"const":"fixed \"q\""}},"required":["n","c"]}""",
        """{"type":"object"}""",
        """{"type":"object","properties":{},"additionalProperties":false}""",
        """{"type":"object","properties":{"m":{"type":"array","items":{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":2}},"s":{"type":"string","enum":["x","y",3]}},"required":["m"]}""",
        """{"type":"object","properties":{"small":{"type":"integer","minimum":10,"maximum":250},"neg":{"type":"integer","exclusiveMinimum":-50,"exclusiveMaximum":0},"low":{"type":"integer","minimum":-7.5}},"required":["small","neg"]}""",
        """{"type":"object","properties":{"score":{"type":"number","minimum":0,"maximum":1},"temp":{"type":"number","exclusiveMinimum":-40.5,"maximum":60},"big":{"type":"number","exclusiveMaximum":1000}},"required":["score","temp"]}""",
        // What LangChain.js sends for a zod object (z.number().int() carries the safe-integer bounds).
        """{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"mood":{"type":"string","enum":["calm","busy","old"],"description":"how it feels"},"year":{"type":"integer","minimum":-9007199254740991,"maximum":9007199254740991},"open":{"type":"boolean"},"note":{"type":"string"},"tags":{"maxItems":2,"type":"array","items":{"type":"string"}}},"required":["mood","year","open","tags"],"additionalProperties":false}""",
    ];

    private static readonly string[] Strings = ["", "plain", "with \"quotes\"", "back\\slash", "tab\tnew\nline", "é and 日本", "emoji 😀", "ctrl \u0001", "slash /", "</script>"];

    [Fact]
    public void CompletedDocuments_AreValid_AndValidDocumentsInTheSubset_Complete()
    {
        var random = new Random(11);
        for (int s = 0; s < Schemas.Length; s++)
        {
            var grammar = JsonGrammar.FromSchema(Schemas[s]);
            var oracle = JsonSchema.FromText(Schemas[s]);
            using var schema = JsonDocument.Parse(Schemas[s]);
            int accepted = 0, valid = 0;
            for (int n = 0; n < 400; n++)
            {
                bool inSubset = true;
                var node = Generate(schema.RootElement, random, 0, ref inSubset);
                var bytes = Serialize(node, random);
                bool ok = Accepts(grammar, bytes);
                using var document = JsonDocument.Parse(bytes);
                bool isValid = oracle.Evaluate(document.RootElement).IsValid;
                string text = Encoding.UTF8.GetString(bytes);
                if (ok) Assert.True(isValid, $"schema {s}: the grammar completes an invalid document: {text}");
                // Indentation is outside the subset (one whitespace character between tokens at most).
                if (isValid && inSubset && WhitespaceRun(bytes) <= Frame.MaxWhitespaceRun) Assert.True(ok, $"schema {s}: the grammar refuses a valid document in its subset: {text}");
                if (ok) AssertPrefixesLive(grammar, bytes, text);
                accepted += ok ? 1 : 0;
                valid += isValid ? 1 : 0;
            }
            // Teeth both ways: the generator reaches both sides of the line for every schema.
            Assert.True(accepted >= 40, $"schema {s}: only {accepted} of 400 documents accepted ({valid} valid).");
            Assert.True(accepted < 400, $"schema {s}: every document accepted; the mutations do not test refusal.");
        }
    }

    [Fact]
    public void AnyObject_AcceptsExactlyWhatSystemTextJsonParsesAsAnObject_UnderMutation()
    {
        var random = new Random(3);
        var seeds = new[]
        {
            """{"a": [1, -2.5e+3, 0, -0, 1E-2], "b": {"c": null, "d": true, "e": false}, "s": "x\"y\\z\u00e9\n", "u": "日本😀"}""",
            """{"nested":[[[{"k":[]}]]],"n":12345678901234567890,"f":0.000001}""",
            "{ }",
        };
        int agreedAccept = 0, agreedRefuse = 0;
        for (int n = 0; n < 4000; n++)
        {
            var bytes = Encoding.UTF8.GetBytes(seeds[n % seeds.Length]).ToList();
            int edits = random.Next(0, 3);
            for (int e = 0; e < edits && bytes.Count > 0; e++)
            {
                int at = random.Next(bytes.Count);
                const string alphabet = "{}[]\",:. -+e0123456789tfnul\\\u0001a";
                byte b = (byte)alphabet[random.Next(alphabet.Length)];
                switch (random.Next(3))
                {
                    case 0: bytes.RemoveAt(at); break;
                    case 1: bytes.Insert(at, b); break;
                    default: bytes[at] = b; break;
                }
            }
            var array = bytes.ToArray();
            bool parses;
            try
            {
                using var d = JsonDocument.Parse(array);
                // System.Text.Json checks a string's UTF-8 only when it is read: read them all.
                parses = d.RootElement.ValueKind == JsonValueKind.Object && StringsDecode(d.RootElement);
            }
            catch (JsonException) { parses = false; }
            // The grammar also ends at the root's last byte (no trailing whitespace: the reply ends there), and allows
            // one whitespace character between tokens.
            if (array.Length > 0 && array[^1] is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r') parses = false;
            if (WhitespaceRun(array) > Frame.MaxWhitespaceRun) parses = false;
            bool ok = Accepts(JsonGrammar.AnyObject, array);
            Assert.True(parses == ok, $"System.Text.Json {(parses ? "parses" : "refuses")} but the grammar {(ok ? "accepts" : "refuses")}: {Encoding.UTF8.GetString(array)}");
            if (ok) agreedAccept++; else agreedRefuse++;
        }
        Assert.True(agreedAccept > 400 && agreedRefuse > 400, $"{agreedAccept} accepted, {agreedRefuse} refused: the fuzz does not reach both sides.");
    }

    [Fact]
    public void AToolCall_NamesItsFunctionBeforeItsArguments()
    {
        // A streamed call must name its function in its first delta, so the grammar keeps the template's order.
        var grammar = JsonGrammar.ToolCall([("get_weather", null), ("add", null)], ToolCallSyntax.ChatMl);
        Assert.True(Accepts(grammar, Encoding.UTF8.GetBytes("<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}}\n</tool_call>")));
        Assert.False(Accepts(grammar, Encoding.UTF8.GetBytes("<tool_call>\n{\"arguments\": {\"a\": 1}, \"name\": \"add\"}\n</tool_call>")));
        Assert.False(Accepts(grammar, Encoding.UTF8.GetBytes("<tool_call>\n{\"name\": \"add\"}\n</tool_call>")));
    }

    [Fact]
    public void ParallelToolCalls_FollowOneAnother_UpToTheLimit()
    {
        const string call = "<tool_call>\n{\"name\": \"add\", \"arguments\": {}}\n</tool_call>";
        var two = JsonGrammar.ToolCall([("add", null)], ToolCallSyntax.ChatMl, maxCalls: 2);
        var one = JsonGrammar.ToolCall([("add", null)], ToolCallSyntax.ChatMl);
        Assert.True(Accepts(two, Encoding.UTF8.GetBytes(call)));
        Assert.True(Accepts(two, Encoding.UTF8.GetBytes(call + "\n" + call)));
        Assert.False(Accepts(two, Encoding.UTF8.GetBytes(call + "\n" + call + "\n" + call)));
        Assert.False(Accepts(two, Encoding.UTF8.GetBytes(call + "\n\n" + call)));
        Assert.False(Accepts(one, Encoding.UTF8.GetBytes(call + "\n" + call)));
        // After a call the reply may end or go on; after the last allowed one it must end.
        var afterOne = two.Start().Advance(Encoding.UTF8.GetBytes(call))!;
        Assert.True(afterOne.IsComplete);
        Assert.True(afterOne.MayContinue);
        var afterTwo = afterOne.Advance(Encoding.UTF8.GetBytes("\n" + call))!;
        Assert.True(afterTwo.IsComplete);
        Assert.False(afterTwo.MayContinue);
        // Half-way through the second call the reply may not end.
        Assert.False(afterOne.Advance(Encoding.UTF8.GetBytes("\n<tool_call>"))!.IsComplete);
    }

    [Fact]
    public void MistralCalls_AreOneArray_ThatMustClose()
    {
        var grammar = JsonGrammar.ToolCall([("add", null), ("get_weather", null)], ToolCallSyntax.MistralV3, maxCalls: 2);
        const string one = "{\"name\": \"add\", \"arguments\": {\"a\": 1}}", other = "{\"name\": \"get_weather\", \"arguments\": {}}";
        Assert.True(Accepts(grammar, Encoding.UTF8.GetBytes("[TOOL_CALLS][" + one + "]")));
        Assert.True(Accepts(grammar, Encoding.UTF8.GetBytes("[TOOL_CALLS][" + one + ", " + other + "]")));
        Assert.False(Accepts(grammar, Encoding.UTF8.GetBytes("[TOOL_CALLS][" + one + ", " + other + ", " + one + "]")));   // a third call
        Assert.False(Accepts(grammar, Encoding.UTF8.GetBytes("[" + one + "]")));                                       // no marker
        Assert.True(Accepts(grammar, Encoding.UTF8.GetBytes(" [TOOL_CALLS][" + one + "]")));                           // a word-start space first
        Assert.False(Accepts(grammar, Encoding.UTF8.GetBytes("[TOOL_CALLS][" + one.Replace("arguments", "parameters") + "]")));
        // After a call the array may go on or close, but the reply may not end before it closes; after "]" it must end.
        var afterOne = grammar.Start().Advance(Encoding.UTF8.GetBytes("[TOOL_CALLS][" + one))!;
        Assert.False(afterOne.IsComplete);
        Assert.NotNull(afterOne.Advance(Encoding.UTF8.GetBytes(", ")));
        var closed = afterOne.Advance((byte)']')!;
        Assert.True(closed.IsComplete);
        Assert.False(closed.MayContinue);
        Assert.Null(closed.Advance((byte)','));
        // One call only: the separator is refused at once.
        var single = JsonGrammar.ToolCall([("add", null)], ToolCallSyntax.MistralV3);
        Assert.Null(single.Start().Advance(Encoding.UTF8.GetBytes("[TOOL_CALLS][" + one + ", ")));
    }

    [Fact]
    public void Llama31Calls_AreOneObject_WithParameters()
    {
        var grammar = JsonGrammar.ToolCall([("add", """{"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}""")], ToolCallSyntax.Llama31, maxCalls: 1);
        Assert.True(Accepts(grammar, "{\"name\": \"add\", \"parameters\": {\"a\": 1}}"u8.ToArray()));
        Assert.False(Accepts(grammar, "{\"name\": \"add\", \"arguments\": {\"a\": 1}}"u8.ToArray()));
        Assert.False(Accepts(grammar, "{\"name\": \"add\", \"parameters\": {\"a\": \"x\"}}"u8.ToArray()));    // the schema holds
        Assert.False(Accepts(grammar, "{\"name\": \"add\", \"parameters\": {\"a\": 1}}\n{\"name\": \"add\", \"parameters\": {\"a\": 1}}"u8.ToArray()));
        // Even with "required" and parallel calls allowed, Llama 3.1 gets one call (its template renders no more).
        var required = ReplyGrammar.Of(0, null, "required", null, ["{\"type\": \"function\", \"function\": {\"name\": \"add\"}}"], parallelToolCalls: true, ToolCallSyntax.Llama31)!;
        Assert.Equal(1, required.MaxValues);
        Assert.True(required.Start().Advance("{\"name\": \"add\", \"parameters\": {}}"u8)!.IsComplete);
    }

    [Fact]
    public void Limits_BoundWhitespaceAndNesting()
    {
        Assert.True(Accepts(JsonGrammar.AnyObject, Encoding.UTF8.GetBytes("{" + new string(' ', Frame.MaxWhitespaceRun) + "}")));
        Assert.False(Accepts(JsonGrammar.AnyObject, Encoding.UTF8.GetBytes("{" + new string(' ', Frame.MaxWhitespaceRun + 1) + "}")));
        string Nested(int depth) => "{\"a\":" + new string('[', depth - 2) + new string(']', depth - 2) + "}";
        Assert.True(Accepts(JsonGrammar.AnyObject, Encoding.UTF8.GetBytes(Nested(Frame.MaxDepth - 1))));
        Assert.False(Accepts(JsonGrammar.AnyObject, Encoding.UTF8.GetBytes(Nested(Frame.MaxDepth + 1))));
        // The reply ends with the root: nothing may follow it.
        Assert.Null(JsonGrammar.AnyObject.Start().Advance("{}"u8)!.Advance((byte)' '));
    }

    [Theory]
    [InlineData("""{"type":"string"}""", "root")]
    [InlineData("""{"type":"object","properties":{"a":{"$ref":"#/$defs/x"}}}""", "'$ref'")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"string","pattern":"^x"}}}""", "'pattern'")]
    [InlineData("""{"type":"object","properties":{"a":{"type":["number","null"],"minimum":0}}}""", "type list")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"number","minimum":2e12}}}""", "beyond")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"number","exclusiveMinimum":1,"maximum":1}}}""", "allows no number")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"integer","minimum":5,"maximum":4}}}""", "allows no integer")]
    [InlineData("""{"type":"object","properties":{"a":{"anyOf":[{"type":"object"},{"type":"object","properties":{"b":{}}}]}}}""", "first character")]
    [InlineData("""{"type":"object","required":["missing"]}""", "not in 'properties'")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"array","minItems":3,"maxItems":1}}}""", "maxItems")]
    [InlineData("""{"type":"object","properties":{"a":{"type":"text"}}}""", "not a JSON Schema type")]
    [InlineData("""{"type":"object",""", "not valid JSON")]
    [InlineData("""{"type":"object","properties":{"a":{"enum":[1,2],"type":"string"}}}""", "allows no value")]
    public void UnsupportedOrBrokenSchemas_AreRefusedByName(string schema, string named)
    {
        var e = Assert.ThrowsAny<ArgumentException>(() => JsonGrammar.FromSchema(schema));
        Assert.Contains(named, e.Message);
    }

    [Fact]
    public void LargeSchemas_AreRefused_NotCompiled()
    {
        string Deep(int depth) => depth == 0 ? """{"type":"integer"}""" : "{\"type\":\"object\",\"properties\":{\"a\":" + Deep(depth - 1) + "}}";
        Assert.Contains("deeper", Assert.ThrowsAny<ArgumentException>(() => JsonGrammar.FromSchema(Deep(JsonGrammar.MaxSchemaDepth + 2))).Message);
        var wide = "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 65).Select(i => $"\"p{i}\":{{}}")) + "}}";
        Assert.Contains("64", Assert.ThrowsAny<ArgumentException>(() => JsonGrammar.FromSchema(wide)).Message);
        var branches = "{\"type\":\"object\",\"properties\":{\"a\":{\"anyOf\":[" + string.Join(",", Enumerable.Range(0, 17).Select(i => $"{{\"const\":{i}}}")) + "]}}}";
        Assert.Contains("alternatives", Assert.ThrowsAny<ArgumentException>(() => JsonGrammar.FromSchema(branches)).Message);
        var huge = "{\"type\":\"object\",\"description\":\"" + new string('x', JsonGrammar.MaxSchemaBytes) + "\"}";
        Assert.Contains("KB", Assert.ThrowsAny<ArgumentException>(() => JsonGrammar.FromSchema(huge)).Message);
    }

    /// <summary>The longest run of whitespace outside strings.</summary>
    private static int WhitespaceRun(byte[] bytes)
    {
        int longest = 0, run = 0;
        bool inString = false, escaped = false;
        foreach (byte b in bytes)
        {
            if (inString)
            {
                if (escaped) escaped = false;
                else if (b == (byte)'\\') escaped = true;
                else if (b == (byte)'"') inString = false;
                continue;
            }
            if (b is (byte)' ' or (byte)'\n' or (byte)'\t' or (byte)'\r') longest = Math.Max(longest, ++run);
            else
            {
                run = 0;
                if (b == (byte)'"') inString = true;
            }
        }
        return longest;
    }

    private static bool StringsDecode(JsonElement e)
    {
        try
        {
            return e.ValueKind switch
            {
                JsonValueKind.String => e.GetString() is not null,
                JsonValueKind.Object => e.EnumerateObject().All(p => p.Name is not null && StringsDecode(p.Value)),
                JsonValueKind.Array => e.EnumerateArray().All(StringsDecode),
                _ => true,
            };
        }
        catch (InvalidOperationException) { return false; }
    }

    internal static bool Accepts(JsonGrammar grammar, byte[] bytes) => grammar.Start().Advance(bytes) is { IsComplete: true };

    private static void AssertPrefixesLive(JsonGrammar grammar, byte[] bytes, string text)
    {
        var state = grammar.Start();
        for (int i = 0; i < bytes.Length; i++)
        {
            Assert.False(state.IsComplete, $"complete before byte {i} of {text}");
            state = state.Advance(bytes[i]) ?? throw new Xunit.Sdk.XunitException($"prefix of {i + 1} bytes refused: {text}");
        }
    }

    private static byte[] Serialize(JsonNode? node, Random random)
    {
        var options = new JsonSerializerOptions
        {
            WriteIndented = random.Next(3) == 0,
            Encoder = random.Next(2) == 0 ? JavaScriptEncoder.UnsafeRelaxedJsonEscaping : JavaScriptEncoder.Default,
        };
        return JsonSerializer.SerializeToUtf8Bytes(node, options);
    }

    /// <summary>
    /// A document for <paramref name="schema"/>, valid most of the time, with mutations: a wrong type, a dropped required
    /// key, an undeclared key (valid unless additionalProperties is false, but outside the grammar's subset).
    /// </summary>
    private static JsonNode? Generate(JsonElement schema, Random random, int depth, ref bool inSubset)
    {
        if (schema.ValueKind == JsonValueKind.True || schema.ValueKind == JsonValueKind.Object && !schema.EnumerateObject().Any(p => p.Name is "type" or "enum" or "const" or "anyOf" or "properties"))
            return Any(random, depth);
        if (random.Next(25) == 0) return Any(random, depth);          // a value of any type
        if (schema.TryGetProperty("const", out var c) || schema.TryGetProperty("enum", out c))
        {
            var values = c.ValueKind == JsonValueKind.Array && !schema.TryGetProperty("const", out _) ? c.EnumerateArray().ToArray() : [c];
            var value = values[random.Next(values.Length)];
            // The grammar writes enum values as compact JSON with minimal escapes; another spelling is valid but outside it.
            if (value.ValueKind is JsonValueKind.Object or JsonValueKind.Array
                || value.ValueKind == JsonValueKind.String && value.GetString()!.Any(ch => ch is '"' or '\\' or '<' or '>' or '&' or '\'' or '+' or '`' or > '~'))
                inSubset = false;
            return JsonNode.Parse(value.GetRawText());
        }
        if (schema.TryGetProperty("anyOf", out var any))
        {
            var branches = any.EnumerateArray().ToArray();
            return Generate(branches[random.Next(branches.Length)], random, depth + 1, ref inSubset);
        }
        string type = schema.GetProperty("type") is { ValueKind: JsonValueKind.Array } list
            ? list[random.Next(list.GetArrayLength())].GetString()! : schema.GetProperty("type").GetString()!;
        switch (type)
        {
            case "object":
                {
                    var o = new JsonObject();
                    var required = schema.TryGetProperty("required", out var r) ? r.EnumerateArray().Select(x => x.GetString()!).ToHashSet() : [];
                    if (schema.TryGetProperty("properties", out var props))
                        foreach (var p in props.EnumerateObject().OrderBy(_ => random.Next()))
                        {
                            bool include = required.Contains(p.Name) ? random.Next(30) != 0 : random.Next(2) == 0;
                            if (include) o[p.Name] = Generate(p.Value, random, depth + 1, ref inSubset);
                        }
                    bool declared = schema.TryGetProperty("properties", out _);
                    bool closedEmpty = !declared && schema.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False;
                    if (random.Next(declared || closedEmpty ? 15 : 2) == 0)
                    {
                        var valueSchema = schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.Object ? extra : default;
                        o["extra" + random.Next(3)] = valueSchema.ValueKind == JsonValueKind.Object ? Generate(valueSchema, random, depth + 1, ref inSubset) : Any(random, depth + 1);
                        if (declared) inSubset = false;
                    }
                    return o;
                }
            case "array":
                {
                    int min = schema.TryGetProperty("minItems", out var mi) ? mi.GetInt32() : 0;
                    int max = schema.TryGetProperty("maxItems", out var ma) ? ma.GetInt32() : min + 3;
                    int count = Math.Max(0, random.Next(min, max + 1) + (random.Next(12) == 0 ? random.Next(-1, 2) : 0));
                    var a = new JsonArray();
                    for (int i = 0; i < count; i++)
                        a.Add(schema.TryGetProperty("items", out var items) ? Generate(items, random, depth + 1, ref inSubset) : Any(random, depth + 1));
                    return a;
                }
            case "string": return JsonValue.Create(Strings[random.Next(Strings.Length)]);
            case "integer":
                {
                    // Near the bounds when there are some (either side of each), anywhere otherwise.
                    long lo = Bound(schema, "minimum", "exclusiveMinimum") ?? -1000, hi = Bound(schema, "maximum", "exclusiveMaximum") ?? 100000;
                    return random.Next(3) == 0 ? JsonValue.Create(random.NextInt64(-1000, 100000))
                        : JsonValue.Create(random.NextInt64(Math.Max(lo, -1_000_000) - 3, Math.Min(hi, 1_000_000) + 4));
                }
            case "number":
                {
                    long? lo = Bound(schema, "minimum", "exclusiveMinimum"), hi = Bound(schema, "maximum", "exclusiveMaximum");
                    if ((lo is not null || hi is not null) && random.Next(4) != 0)
                    {
                        // Near and at the bounds, with a few decimals (the bounds themselves too: exclusive ones must be refused).
                        double a = (lo ?? (hi!.Value - 100)) - 1, b = (hi ?? (lo!.Value + 100)) + 1;
                        double pick = random.Next(5) == 0 ? (random.Next(2) == 0 ? a + 1 : b - 1) : a + random.NextDouble() * (b - a);
                        return JsonValue.Create(Math.Round(pick, random.Next(0, 4)));
                    }
                    // Plain decimals only where bounded: exponents are outside the subset there.
                    if (lo is not null || hi is not null) inSubset = false;
                    return JsonValue.Create(Math.Round((random.NextDouble() - 0.3) * Math.Pow(10, random.Next(-3, 25)), random.Next(0, 4)));
                }
            case "boolean": return JsonValue.Create(random.Next(2) == 0);
            default: return null;
        }
    }

    private static long? Bound(JsonElement schema, string inclusive, string exclusive) =>
        schema.TryGetProperty(inclusive, out var b) || schema.TryGetProperty(exclusive, out b) ? (long)Math.Round(b.GetDouble()) : null;
    // (Bounds are rounded for generating values only; the oracle checks the exact ones.)

    private static JsonNode? Any(Random random, int depth) => random.Next(depth > 3 ? 5 : 7) switch
    {
        0 => JsonValue.Create(Strings[random.Next(Strings.Length)]),
        1 => JsonValue.Create(random.Next(-50, 50)),
        2 => JsonValue.Create(random.NextDouble() * 100),
        3 => JsonValue.Create(random.Next(2) == 0),
        4 => null,
        5 => new JsonArray(Any(random, depth + 1), Any(random, depth + 1)),
        _ => new JsonObject { ["k"] = Any(random, depth + 1), ["v"] = Any(random, depth + 1) },
    };
}
