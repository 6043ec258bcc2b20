using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// JSON as chat templates' <c>tojson</c> filter writes it (Python's <c>json.dumps</c> with <c>ensure_ascii=False</c>, as
/// transformers renders templates): ", " between items, ": " after keys, non-ASCII text as is, control characters
/// escaped. Numbers keep the text they came with.
/// </summary>
public static class TemplateJson
{
    public static string Write(JsonElement value)
    {
        var text = new StringBuilder();
        Write(value, text);
        return text.ToString();
    }

    private static void Write(JsonElement value, StringBuilder text)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append('{');
                bool first = true;
                foreach (var property in value.EnumerateObject())
                {
                    if (!first) text.Append(", ");
                    first = false;
                    String(property.Name, text);
                    text.Append(": ");
                    Write(property.Value, text);
                }
                text.Append('}');
                break;
            case JsonValueKind.Array:
                text.Append('[');
                bool firstItem = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!firstItem) text.Append(", ");
                    firstItem = false;
                    Write(item, text);
                }
                text.Append(']');
                break;
            case JsonValueKind.String:
                String(value.GetString()!, text);
                break;
            case JsonValueKind.True: text.Append("true"); break;
            case JsonValueKind.False: text.Append("false"); break;
            case JsonValueKind.Null: text.Append("null"); break;
            default: text.Append(value.GetRawText()); break;
        }
    }

    private static void String(string s, StringBuilder text)
    {
        text.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                case < ' ': text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture)); break;
                default: text.Append(c); break;
            }
        }
        text.Append('"');
    }
}
