namespace SpecEdge.OpenAi;

/// <summary>
/// A request refused with OpenAI's error shape: HTTP <see cref="Status"/>, and <c>{"error": {"message", "type",
/// "param", "code"}}</c> where <see cref="Param"/> names the request field at fault.
/// </summary>
public sealed class OpenAiException(int status, string message, string? param = null, string type = "invalid_request_error", string? code = null)
    : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string Type { get; } = type;
    public string? Code { get; } = code;

    public static OpenAiException BadRequest(string param, string message) => new(400, message, param);

    public ErrorResponse ToResponse() => new(new ErrorBody(Message, Type, Param, Code));
}
