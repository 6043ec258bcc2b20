namespace SpecEdge.OpenAi;

/// <summary>
/// Token counts of one request. <see cref="PromptTokens"/> is every token the model read before the reply (the whole
/// conversation), as OpenAI counts it; <see cref="PromptTokensDetails"/> says how many of those came from a reused session's cache.
/// </summary>
public sealed record Usage(int PromptTokens, int CompletionTokens, int TotalTokens, PromptTokensDetails? PromptTokensDetails = null)
{
    public static Usage Of(int prompt, int cached, int completion) => new(prompt, completion, prompt + completion, new PromptTokensDetails(cached));
}

public sealed record PromptTokensDetails(int CachedTokens);
