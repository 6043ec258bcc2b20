namespace SpecEdge.OpenAi;

/// <summary>
/// A request refused with OpenAI's error shape: HTTP <see cref="Status"/>, and <c>{"error": {"message", "type",
/// "param", "code"}}</c> where <see cref="Param"/> names the request field at fault. The message goes out in the API's
/// own terms (<see cref="PublicWords"/>); the exception keeps ours for the log.
/// </summary>
public sealed class OpenAiException(int status, string message, string? param = null, string type = "invalid_request_error", string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string Type { get; } = type;
    public string? Code { get; } = code;
    /// <summary>
    /// Sent as <c>x-should-retry</c>, which the official OpenAI clients obey before their own rules (they retry 408, 409,
    /// 429 and 5xx): null sends nothing.
    /// </summary>
    public bool? ShouldRetry { get; init; }

    public static OpenAiException BadRequest(string param, string message) => new(400, message, param);

    public ErrorResponse ToResponse() => new(new ErrorBody(PublicWords.Of(Message), Type, Param, Code));
}
