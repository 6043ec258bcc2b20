using System.Text.RegularExpressions;
using SpecEdge.Contracts.Security;

namespace SpecEdge.OpenAi;

/// <summary>
/// A session's refusal in OpenAI's words: its argument errors name a settings field, mapped here to the request
/// parameter; access refusals are 403; a busy tenant is 429; a server at its KV budget, or one that went away mid-call, 503; a conversation too long for the context is OpenAI's
/// context_length_exceeded. Anything else is not the caller's fault and stays a server error. Shared by every host
/// that serves the API over session grains (the silo, the edge host).
/// </summary>
public static partial class SessionRefusals
{
    public static OpenAiException? ToOpenAi(Exception e, ReplyJob job) => e switch
    {
        AccessDeniedException => new OpenAiException(403, e.Message, type: "permission_error"),
        ArgumentException a => OpenAiException.BadRequest(Param(a, job), ApiNames(WithoutParameterSuffix(a.Message), job)),
        InvalidOperationException when e.Message.Contains("MaxActiveRepliesPerTenant", StringComparison.Ordinal) =>
            new OpenAiException(429, e.Message, type: "rate_limit_error", code: "rate_limit_exceeded"),
        InvalidOperationException when e.Message.Contains("at capacity", StringComparison.Ordinal) =>
            new OpenAiException(503, e.Message, type: "server_error", code: "server_overloaded"),
        InvalidOperationException when e.Message.Contains("MaxContextTokens", StringComparison.Ordinal) =>
            new OpenAiException(400, e.Message, job.IsChat ? "messages" : "prompt", code: "context_length_exceeded"),
        // A reply in progress ends in seconds to minutes, not in a client's back-off of a second or two, and a retried
        // message would land after that reply, which its sender did not ask for: the official clients, which retry a 409
        // twice on their own, are told not to. A client that wants to cut in stops the reply first (closes its stream).
        InvalidOperationException => new OpenAiException(409, e.Message, job.SessionId is null ? null : "session", code: "conversation_busy") { ShouldRetry = false },
        TimeoutException => SiloGone(),
        _ => Unavailable(e),
    };

    /// <summary>
    /// The silo holding the conversation went away mid-call (a crash, a deploy), when starting a reply or reading it: the
    /// conversation comes back on another silo, so this is a retry, not a server bug. Nothing was committed by the failed
    /// call. Null for any other exception.
    /// </summary>
    public static OpenAiException? Unavailable(Exception e) =>
        e is Orleans.Runtime.SiloUnavailableException or Orleans.Runtime.OrleansMessageRejectionException ? SiloGone() : null;

    private static OpenAiException SiloGone() =>
        new(503, "The server holding this conversation became unavailable; it is being moved. Retry in a few seconds.", type: "server_error", code: "server_unavailable");

    private static string Param(ArgumentException e, ReplyJob job)
    {
        var suffix = ParameterSuffix().Match(e.Message);
        string? name = e.ParamName ?? (suffix.Success ? suffix.Groups[1].Value : null);
        return name switch
        {
            "Temperature" => "temperature",
            "TopP" => "top_p",
            "MaxNewTokens" => "max_tokens",
            "StopStrings" => "stop",
            "SystemPrompt" => "messages[0].content",
            "Seed" => "seed",
            "LogitBias" => "logit_bias",
            "MinP" => "min_p",
            "PresencePenalty" => "presence_penalty",
            "FrequencyPenalty" => "frequency_penalty",
            "RepetitionPenalty" => "repetition_penalty",
            "Format" => "response_format",
            "Tools" or "tools" => "tools",
            _ => job.IsChat ? "messages" : "prompt",
        };
    }

    private static string WithoutParameterSuffix(string message) => ParameterSuffix().Replace(message, "");

    /// <summary>The session's settings named as the request names them (a session speaks of MaxNewTokens, a client sent max_tokens).</summary>
    private static string ApiNames(string message, ReplyJob job) => SettingName().Replace(message, m => m.Value switch
    {
        "Temperature" => "temperature",
        "TopP" => "top_p",
        "TopK" => "top_k",
        "MaxNewTokens" => "max_tokens",
        "StopStrings" => "stop",
        "SystemPrompt" => "the system message",
        "Seed" => "seed",
        "History" => job.IsChat ? "messages" : "prompt",
        _ => m.Value,
    });

    [GeneratedRegex(@"\b(?:Temperature|TopP|TopK|MaxNewTokens|StopStrings|SystemPrompt|Seed|History)\b")]
    private static partial Regex SettingName();

    [GeneratedRegex(@" \(Parameter '([^']*)'\)$")]
    private static partial Regex ParameterSuffix();
}
