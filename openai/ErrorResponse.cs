using System.Text.Json.Serialization;

namespace SpecEdge.OpenAi;

/// <summary>OpenAI's error body: <c>{"error": {...}}</c>. <c>param</c> and <c>code</c> are written even when null, as OpenAI does.</summary>
public sealed record ErrorResponse(ErrorBody Error);

public sealed record ErrorBody(
    string Message,
    string Type,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);
