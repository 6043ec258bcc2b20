namespace SpecEdge.Contracts;

/// <summary>What a reply must be: free text, any JSON object (OpenAI's json_object), or JSON matching a schema (json_schema).</summary>
[GenerateSerializer]
public enum OutputFormat
{
    Text = 0,
    JsonObject = 1,
    JsonSchema = 2,
}
