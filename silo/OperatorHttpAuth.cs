using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SpecEdge.Contracts.Security;
using SpecEdge.Grains.Security;

namespace SpecEdge.Silo;

/// <summary>
/// HTTP endpoints for operators only (<c>/metrics</c>, <c>/dashboard</c>): the request must carry an operator credential,
/// as <c>Authorization: Bearer &lt;token&gt;</c> (scrapers, scripts) or as the password of HTTP Basic authentication
/// (browsers ask for it; the user name is ignored). The same credential and verification as every grain call.
/// </summary>
public static class OperatorHttpAuth
{
    /// <summary>Null when the request carries a valid operator credential; otherwise the status and message to answer with.</summary>
    public static (int Status, string Message)? Refusal(HttpContext context, string what)
    {
        if (Token(context.Request.Headers.Authorization.ToString()) is not { } token)
            return (StatusCodes.Status401Unauthorized, $"{what} need an operator credential: Authorization: Bearer <token> (or Basic with the token as password)\n");
        var credentials = context.RequestServices.GetRequiredService<VerifiedCredentials>();
        if (!credentials.TryVerify(token, out var credential, out var error))
            return (StatusCodes.Status401Unauthorized, $"credential refused: {error}\n");
        return credential!.Role == CredentialRole.Operator ? null
            : (StatusCodes.Status403Forbidden, $"{what} are for operator credentials only\n");
    }

    /// <summary>Answers a refused request; <paramref name="basic"/> makes browsers prompt for the credential.</summary>
    public static Task RefuseAsync(HttpContext context, (int Status, string Message) refusal, bool basic)
    {
        context.Response.StatusCode = refusal.Status;
        context.Response.Headers.WWWAuthenticate = basic ? "Basic realm=\"SpecEdge operator\", charset=\"UTF-8\"" : "Bearer";
        return context.Response.WriteAsync(refusal.Message);
    }

    private static string? Token(string header)
    {
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header["Bearer ".Length..].Trim();
        if (!header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            string pair = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..].Trim()));
            int colon = pair.IndexOf(':');
            return colon < 0 ? null : pair[(colon + 1)..];
        }
        catch (FormatException) { return null; }
    }
}
