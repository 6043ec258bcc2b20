using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// Log probabilities in the two shapes of OpenAI's API: a chat's <c>logprobs.content</c> (token, logprob, bytes and the
/// top alternatives) and a text completion's parallel arrays (<c>tokens</c>, <c>token_logprobs</c>,
/// <c>top_logprobs</c>, <c>text_offset</c>). Built from the reply's chunks, one entry per committed token.
/// </summary>
public static class LogprobsFormat
{
    public static ChatLogprobs Chat(IEnumerable<ReplyLogprob> tokens) => new(tokens.Select(t => new ChatTokenLogprob(t.Token, t.Logprob, Bytes(t),
        (t.Top ?? []).Select(a => new ChatTopLogprob(a.Token, a.Logprob, Bytes(a))).ToArray())).ToArray());

    /// <param name="textOffset">Characters of reply text before the first of <paramref name="tokens"/>.</param>
    /// <param name="withTop">Whether the request asked for alternatives (completions' <c>logprobs</c> &gt; 0).</param>
    public static CompletionLogprobs Completion(IReadOnlyList<ReplyLogprob> tokens, int textOffset, bool withTop)
    {
        var offsets = new int[tokens.Count];
        for (int i = 0; i < tokens.Count; i++) { offsets[i] = textOffset; textOffset += tokens[i].Token.Length; }
        return new CompletionLogprobs(tokens.Select(t => t.Token).ToArray(), tokens.Select(t => (double)t.Logprob).ToArray(),
            withTop ? tokens.Select(Alternatives).ToArray() : null, offsets);
    }

    // Two alternatives can decode to the same text (different bytes); the likelier one names it, as a JSON object can hold it once.
    private static Dictionary<string, double> Alternatives(ReplyLogprob t)
    {
        var top = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var a in t.Top ?? []) top.TryAdd(a.Token, a.Logprob);
        return top;
    }

    private static int[] Bytes(ReplyLogprob t) => t.Bytes.Select(b => (int)b).ToArray();
}

/// <summary>A chat choice's <c>logprobs</c>.</summary>
public sealed record ChatLogprobs(ChatTokenLogprob[] Content)
{
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)] public object? Refusal => null;
}

public sealed record ChatTokenLogprob(string Token, double Logprob, int[] Bytes, ChatTopLogprob[] TopLogprobs);

public sealed record ChatTopLogprob(string Token, double Logprob, int[] Bytes);

/// <summary>A text completion choice's <c>logprobs</c>: parallel arrays, one entry per token.</summary>
public sealed record CompletionLogprobs(string[] Tokens, double[] TokenLogprobs,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)] Dictionary<string, double>[]? TopLogprobs,
    int[] TextOffset);
