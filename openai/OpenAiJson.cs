using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>JSON as OpenAI writes it: snake_case names, absent rather than null for optional fields.</summary>
public static class OpenAiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // Numbers must be numbers: "temperature": "0.5" is refused, as OpenAI refuses it.
        NumberHandling = JsonNumberHandling.Strict,
        // Quotes and angle brackets as themselves, as OpenAI writes them (the body is JSON, never embedded in HTML).
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
