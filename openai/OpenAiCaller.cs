namespace SpecEdge.OpenAi;

/// <summary>An authenticated API caller: the key it presented (the backend acts under it) and the tenant it belongs to.</summary>
public sealed record OpenAiCaller(string ApiKey, string Tenant);
