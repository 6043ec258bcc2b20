using SpecEdge.Contracts.Security;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Silo side, outgoing: a call to a grain or system target carries this silo's credential (replacing whatever credential
/// flowed in with the call being served, so a session may call its verifier while an edge may not); a call to a client
/// (an edge's observer) carries no credential at all, so no edge ever receives a service's or a silo's token; a silo's
/// own hosted client (the edge gateway's observers) is a silo, and gets the silo's credential.
/// One exception: code outside any grain (a front end co-hosted in the silo process, such as the OpenAI-compatible
/// HTTP API) that scoped a caller's token with <see cref="CallerCredential.Use"/> calls with that token, so the grain
/// side's <see cref="CallAuthorizationFilter"/> judges the HTTP caller, not the silo.
/// </summary>
public sealed class SiloCredentialOutgoingFilter(SiloCredential silo, IClusterMembershipService membership) : IOutgoingGrainCallFilter
{
    // async: the RequestContext change stays inside this call and does not leak into the calling grain's flow.
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.TargetId.IsClient() && !IsSiloHostedClient(context.TargetId)) RequestContext.Remove(CallerCredential.RequestContextKey);
        else if (context.SourceContext is null && CallerCredential.Current is { } caller)
        {
            // An empty scoped token means "no credential": the call is then refused like any anonymous one.
            if (caller.Length == 0) RequestContext.Remove(CallerCredential.RequestContextKey);
            else RequestContext.Set(CallerCredential.RequestContextKey, caller);
        }
        else RequestContext.Set(CallerCredential.RequestContextKey, silo.Token);
        await context.Invoke();
    }

    /// <summary>
    /// A silo's own hosted client (where the edge gateway keeps its observers of attached edges): it runs inside a silo,
    /// behind the same call filter as the grains, so notifications to it carry the silo's credential like any call
    /// between silos. Without it the filter refused every turn a session announced to an edge attached over the gateway.
    /// Only the hosted client of a silo in the cluster's membership qualifies: a client that named itself like one
    /// (client ids are chosen client-side) is just a client, and gets no credential.
    /// </summary>
    private bool IsSiloHostedClient(GrainId target) => IsHostedClientOfActiveSilo(target, membership.CurrentSnapshot);

    internal static bool IsHostedClientOfActiveSilo(GrainId target, ClusterMembershipSnapshot snapshot)
    {
        string key = target.Key.ToString() ?? "";
        if (!key.StartsWith(HostedClientKeyPrefix, StringComparison.Ordinal)) return false;
        // An observer's id is its client's plus "+{object id}".
        int plus = key.IndexOf('+');
        string silo = plus < 0 ? key[HostedClientKeyPrefix.Length..] : key[HostedClientKeyPrefix.Length..plus];
        SiloAddress address;
        try { address = SiloAddress.FromParsableString(silo); }
        catch (Exception) { return false; }   // not a silo address, whatever the parser disliked
        return snapshot.Members.TryGetValue(address, out var member) && member.Status == SiloStatus.Active;
    }

    /// <summary>How Orleans names the client object host inside each silo (<c>sys.client/hosted-{silo address}</c>, observers <c>…+{id}</c>).</summary>
    private const string HostedClientKeyPrefix = "hosted-";
}
