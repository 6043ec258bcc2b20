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
        Write(value, text, 0, 0);
        return text.ToString();
    }

    /// <summary>
    /// As <c>tojson(indent=N)</c> writes it (<c>json.dumps(indent=N)</c>): each member or item on its own line, indented
    /// <paramref name="indent"/> spaces per level, "," at line ends; empty objects and arrays stay "{}" and "[]".
    /// </summary>
    public static string WriteIndented(JsonElement value, int indent)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(indent);
        var text = new StringBuilder();
        Write(value, text, indent, 0);
        return text.ToString();
    }

    /// <summary>A string as tojson writes it: quoted, with quotes, backslashes and control characters escaped.</summary>
    public static string Quote(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        String(value, text);
        return text.ToString();
    }

    private static void Write(JsonElement value, StringBuilder text, int indent, int depth)
    {
        // Compact: ", " between items. Indented: "," and a new line at the next depth.
        void Separate(bool first)
        {
            if (indent == 0) { if (!first) text.Append(", "); return; }
            if (!first) text.Append(',');
            text.Append('\n').Append(' ', indent * (depth + 1));
        }
        void Close(char c, bool empty)
        {
            if (indent > 0 && !empty) text.Append('\n').Append(' ', indent * depth);
            text.Append(c);
        }
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                text.Append('{');
                bool first = true;
                foreach (var property in value.EnumerateObject())
                {
                    Separate(first);
                    first = false;
                    String(property.Name, text);
                    text.Append(": ");
                    Write(property.Value, text, indent, depth + 1);
                }
                Close('}', first);
                break;
            case JsonValueKind.Array:
                text.Append('[');
                bool firstItem = true;
                foreach (var item in value.EnumerateArray())
                {
                    Separate(firstItem);
                    firstItem = false;
                    Write(item, text, indent, depth + 1);
                }
                Close(']', firstItem);
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
