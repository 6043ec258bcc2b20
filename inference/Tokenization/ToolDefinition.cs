using System.Text.Json;
using System.Text.RegularExpressions;

namespace SpecEdge.Inference.Tokenization;

/// <summary>
/// A function the model may call, from an OpenAI tool object ({"type": "function", "function": {"name", "description",
/// "parameters"}}): its name, its parameters schema (JSON text, or null), and the tool as the chat template's tojson
/// writes it (<see cref="TemplateText"/>).
/// </summary>
public sealed partial record ToolDefinition(string Name, string? Parameters, string TemplateText)
{
    /// <summary>Most tools one request may offer, and most bytes of JSON one tool may have.</summary>
    public const int MaxTools = 64, MaxToolBytes = 64 * 1024;

    /// <exception cref="ArgumentException">A tool is not a function tool object with a valid name; the message says which.</exception>
    public static IReadOnlyList<ToolDefinition> Parse(IReadOnlyList<string>? tools)
    {
        if (tools is null || tools.Count == 0) return [];
        if (tools.Count > MaxTools) throw new ArgumentException($"At most {MaxTools} tools may be offered; got {tools.Count}.", nameof(tools));
        var parsed = new List<ToolDefinition>();
        for (int i = 0; i < tools.Count; i++)
        {
            if (tools[i] is null || System.Text.Encoding.UTF8.GetByteCount(tools[i]) > MaxToolBytes)
                throw new ArgumentException($"tools[{i}] must be a tool object of at most {MaxToolBytes / 1024} KB of JSON.", nameof(tools));
            JsonElement tool;
            try
            {
                using var document = JsonDocument.Parse(tools[i]);
                tool = document.RootElement.Clone();
            }
            catch (JsonException e) { throw new ArgumentException($"tools[{i}] is not valid JSON: {e.Message}", nameof(tools)); }
            if (tool.ValueKind != JsonValueKind.Object || !tool.TryGetProperty("type", out var type) || !type.ValueEquals("function")
                || !tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
                throw new ArgumentException($"tools[{i}] must be {{\"type\": \"function\", \"function\": {{...}}}}.", nameof(tools));
            if (!function.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || !ValidName().IsMatch(name.GetString()!))
                throw new ArgumentException($"tools[{i}].function.name must be 1 to 64 letters, digits, underscores or dashes.", nameof(tools));
            string? parameters = null;
            if (function.TryGetProperty("parameters", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.Object) throw new ArgumentException($"tools[{i}].function.parameters must be a JSON Schema object.", nameof(tools));
                parameters = p.GetRawText();
            }
            if (parsed.Any(t => t.Name == name.GetString())) throw new ArgumentException($"tools[{i}] repeats the function name '{name.GetString()}'.", nameof(tools));
            parsed.Add(new ToolDefinition(name.GetString()!, parameters, TemplateJson.Write(tool)));
        }
        return parsed;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex ValidName();
}
