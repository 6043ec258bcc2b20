using Microsoft.Extensions.Options;

namespace SpecEdge.Contracts.Security;

/// <summary>
/// Client side: puts the caller's credential into <c>RequestContext</c> of every outgoing call (the silo checks it
/// before any grain code runs). A token scoped with <see cref="CallerCredential.Use"/> wins over the configured one.
/// </summary>
public sealed class CredentialOutgoingFilter(IOptions<ClientCredentialOptions> options) : IOutgoingGrainCallFilter
{
    private readonly object _gate = new();
    private string? _fileToken;
    private DateTime _fileStamp;

    public Task Invoke(IOutgoingGrainCallContext context)
    {
        string? token = CallerCredential.Current ?? ConfiguredToken();
        if (string.IsNullOrEmpty(token)) RequestContext.Remove(CallerCredential.RequestContextKey);
        else RequestContext.Set(CallerCredential.RequestContextKey, token);
        return context.Invoke();
    }

    private string? ConfiguredToken()
    {
        var o = options.Value;
        if (o.TokenFile is not { Length: > 0 } path) return o.Token;
        lock (_gate)
        {
            // Re-read only when the file changed: one stat per call instead of a read.
            var stamp = File.GetLastWriteTimeUtc(path);
            if (_fileToken is null || stamp != _fileStamp)
            {
                _fileToken = File.ReadAllText(path).Trim();
                _fileStamp = stamp;
            }
            return _fileToken;
        }
    }
}
