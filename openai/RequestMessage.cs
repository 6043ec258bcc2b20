using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>
/// One message of a chat request. <see cref="Content"/> is a string or an array of parts (only "text" parts are
/// supported); anything else a message may carry (audio, ...) lands in <see cref="Other"/> and is refused.
/// </summary>
public sealed record RequestMessage
{
    public string? Role { get; init; }
    public JsonElement? Content { get; init; }
    public string? Name { get; init; }
    /// <summary>An assistant message's function calls ([{"id", "type": "function", "function": {"name", "arguments"}}]).</summary>
    public JsonElement? ToolCalls { get; init; }
    /// <summary>A tool message's call id (Mistral's template renders it; the others do not).</summary>
    public string? ToolCallId { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }
}
