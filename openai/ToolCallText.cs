using System.Text;
using System.Text.Json;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.OpenAi;

/// <summary>
/// The function calls in a reply's text, as the model writes them and its template renders them. ChatML (Qwen):
/// <c>&lt;tool_call&gt;\n{"name": ..., "arguments": {...}}\n&lt;/tool_call&gt;</c> blocks, the text around them the
/// message's content. Llama 3.1: the whole reply is one {"name": ..., "parameters": {...}} object. Mistral V3: the whole
/// reply is a JSON array of {"name": ..., "arguments": {...}} objects, after [TOOL_CALLS] (a control token the text
/// shows only when a grammar wrote it as text). A reply whose calls do not all parse (an unfinished or malformed call)
/// is all content: what the model wrote is never lost or half-read.
/// </summary>
public static class ToolCallText
{
    private const string Open = "<tool_call>", Close = "</tool_call>";

    /// <summary>The calls of <paramref name="text"/> as <paramref name="syntax"/> writes them (ids in that family's form).</summary>
    public static (string? Content, ToolCall[] Calls) Split(string text, ToolCallSyntax syntax) => syntax.Kind switch
    {
        ChatFormatKind.Llama31 => SplitWhole(text, syntax, ToolCallSyntax.PythonTag, array: false),
        ChatFormatKind.MistralV3 => SplitWhole(text, syntax, ToolCallSyntax.MistralMarker, array: true),
        _ => Split(text),
    };

    /// <summary>A reply that is its calls and nothing else: one object, or an array of them, after an optional marker.</summary>
    private static (string? Content, ToolCall[] Calls) SplitWhole(string text, ToolCallSyntax syntax, string marker, bool array)
    {
        string body = text.Trim();
        if (body.StartsWith(marker, StringComparison.Ordinal)) body = body[marker.Length..].TrimStart();
        if (body.Length == 0 || body[0] != (array ? '[' : '{')) return (text, []);
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var items = array ? root.EnumerateArray().ToArray() : [root];
            var calls = new ToolCall[items.Length];
            for (int i = 0; i < items.Length; i++)
            {
                // Llama 3.1 models are trained on "parameters", yet some write "arguments": either is the call's.
                if (Read(items[i], syntax.ArgumentsKey, "arguments") is not { } call) return (text, []);
                calls[i] = call with { Index = i, Id = syntax.NewCallId() };
            }
            return calls.Length == 0 ? (text, []) : (null, calls);
        }
        catch (JsonException)
        {
            return (text, []);
        }
    }

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
            return Read(document.RootElement, "arguments", "arguments");
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A call object: a string "name", and its arguments under <paramref name="key"/> (or <paramref name="otherKey"/>); null if it is not one.</summary>
    private static ToolCall? Read(JsonElement call, string key, string otherKey)
    {
        if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String) return null;
        string arguments = !call.TryGetProperty(key, out var a) && !call.TryGetProperty(otherKey, out a) ? "{}"
            : a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText();
        return new ToolCall(0, NewId(), "function", new ToolFunction(name.GetString()!, arguments));
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
