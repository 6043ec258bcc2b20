using System.Text;
using System.Text.Json;

namespace SpecEdge.OpenAi;

/// <summary>
/// The function calls in a reply's text, as a ChatML (Qwen) model writes them and its template renders them:
/// <c>&lt;tool_call&gt;\n{"name": ..., "arguments": {...}}\n&lt;/tool_call&gt;</c> blocks. The text around them is the
/// message's content. A reply whose blocks do not all parse (an unfinished or malformed call) is all content: what the
/// model wrote is never lost or half-read.
/// </summary>
public static class ToolCallText
{
    private const string Open = "<tool_call>", Close = "</tool_call>";

    public static (string? Content, ToolCall[] Calls) Split(string text)
    {
        var calls = new List<ToolCall>();
        var content = new StringBuilder();
        int at = 0;
        while (true)
        {
            int open = text.IndexOf(Open, at, StringComparison.Ordinal);
            if (open < 0)
            {
                content.Append(text, at, text.Length - at);
                break;
            }
            int close = text.IndexOf(Close, open, StringComparison.Ordinal);
            if (close < 0) return (text, []);
            content.Append(text, at, open - at);
            if (Parse(text[(open + Open.Length)..close]) is not { } call) return (text, []);
            calls.Add(call with { Index = calls.Count });
            at = close + Close.Length;
        }
        string rest = content.ToString().Trim();
        return calls.Count == 0 ? (text, []) : (rest.Length == 0 ? null : rest, calls.ToArray());
    }

    /// <summary>A new call id, in OpenAI's form.</summary>
    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];

    /// <summary>One block's body as a call (a JSON object with a string "name"), or null.</summary>
    public static ToolCall? Parse(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String) return null;
            string arguments = !root.TryGetProperty("arguments", out var a) ? "{}"
                : a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText();
            return new ToolCall(0, NewId(), "function", new ToolFunction(name.GetString()!, arguments));
        }
        catch (JsonException)
        {
            return null;
        }
    }
}

/// <summary>One function call of a reply, as OpenAI writes it (<see cref="Index"/> only in streamed deltas).</summary>
public sealed record ToolCall(
    [property: System.Text.Json.Serialization.JsonIgnore] int Index, string Id, string Type, ToolFunction Function);

/// <summary>The function a call names and its arguments as JSON text.</summary>
public sealed record ToolFunction(string Name, string Arguments);

/// <summary>
/// A function call in a streamed delta: OpenAI's shape, with the call's index among the reply's calls. The first delta
/// of a call has its id, type and name; the ones after carry only more of its arguments.
/// </summary>
public sealed record ToolCallDelta(int Index, string? Id, string? Type, ToolFunctionDelta Function)
{
    public static ToolCallDelta Of(ToolCall call) => new(call.Index, call.Id, call.Type, new ToolFunctionDelta(call.Function.Name, call.Function.Arguments));
}

/// <summary>A streamed piece of a call's function: its name in the first delta only, then arguments text.</summary>
public sealed record ToolFunctionDelta(string? Name, string Arguments);
