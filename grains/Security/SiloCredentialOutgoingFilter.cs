using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Silo side, outgoing: a call to a grain or system target carries this silo's credential (replacing whatever credential
/// flowed in with the call being served, so a session may call its verifier while an edge may not); a call to a client
/// (an edge's observer) carries no credential at all, so no edge ever receives a service's or a silo's token.
/// One exception: code outside any grain (a front end co-hosted in the silo process, such as the OpenAI-compatible
/// HTTP API) that scoped a caller's token with <see cref="CallerCredential.Use"/> calls with that token, so the grain
/// side's <see cref="CallAuthorizationFilter"/> judges the HTTP caller, not the silo.
/// </summary>
public sealed class SiloCredentialOutgoingFilter(SiloCredential silo) : IOutgoingGrainCallFilter
{
    // async: the RequestContext change stays inside this call and does not leak into the calling grain's flow.
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.TargetId.IsClient()) RequestContext.Remove(CallerCredential.RequestContextKey);
        else if (context.SourceContext is null && CallerCredential.Current is { } caller)
        {
            // An empty scoped token means "no credential": the call is then refused like any anonymous one.
            if (caller.Length == 0) RequestContext.Remove(CallerCredential.RequestContextKey);
            else RequestContext.Set(CallerCredential.RequestContextKey, caller);
        }
        else RequestContext.Set(CallerCredential.RequestContextKey, silo.Token);
        await context.Invoke();
    }
}
