using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>The session's finish reasons in OpenAI's words: <c>stop</c> (end of turn, stop string) or <c>length</c> (token limit, full context).</summary>
public static class FinishReasons
{
    public static string ToOpenAi(ReplyFinish? reason) => reason switch
    {
        ReplyFinish.MaxTokens or ReplyFinish.ContextFull => "length",
        _ => "stop",
    };
}
