using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Silo side, outgoing: a call to a grain or system target carries this silo's credential (replacing whatever credential
/// flowed in with the call being served, so a session may call its verifier while an edge may not); a call to a client
/// (an edge's observer) carries no credential at all, so no edge ever receives a service's or a silo's token.
/// </summary>
public sealed class SiloCredentialOutgoingFilter(SiloCredential silo) : IOutgoingGrainCallFilter
{
    // async: the RequestContext change stays inside this call and does not leak into the calling grain's flow.
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.TargetId.IsClient()) RequestContext.Remove(CallerCredential.RequestContextKey);
        else RequestContext.Set(CallerCredential.RequestContextKey, silo.Token);
        await context.Invoke();
    }
}
