using System.Collections.Immutable;
using SpecEdge.Grains.Security;
using Xunit;

namespace SpecEdge.Cluster.Tests;

/// <summary>
/// Which clients get the silo's credential on a call: only a hosted client (the edge gateway's observers live there) of
/// a silo that is an active member of the cluster. Client ids are chosen by the client, so a name alone proves nothing.
/// </summary>
[Trait("Kind", "unit")]
public class SiloCredentialOutgoingFilterTests
{
    private static readonly SiloAddress Member = SiloAddress.FromParsableString("10.0.0.7:11111@155604418");
    private static readonly SiloAddress Gone = SiloAddress.FromParsableString("10.0.0.8:11111@155604419");

    private static ClusterMembershipSnapshot Snapshot() => new(
        ImmutableDictionary<SiloAddress, ClusterMember>.Empty
            .Add(Member, new ClusterMember(Member, SiloStatus.Active, "silo-a"))
            .Add(Gone, new ClusterMember(Gone, SiloStatus.Dead, "silo-b")),
        new MembershipVersion(3));

    private static bool Gets(string clientKey) =>
        SiloCredentialOutgoingFilter.IsHostedClientOfActiveSilo(GrainId.Create("sys.client", clientKey), Snapshot());

    [Fact]
    public void OnlyTheHostedClientOfAnActiveMemberSilo_GetsTheSilosCredential()
    {
        Assert.True(Gets("hosted-" + Member.ToParsableString()));
        Assert.True(Gets("hosted-" + Member.ToParsableString() + "+a3467a63b95f408b8c7c8d52d76d5479"));   // an observer there
        Assert.False(Gets("hosted-" + Gone.ToParsableString() + "+a3467a63b95f408b8c7c8d52d76d5479"));  // a dead silo's
        Assert.False(Gets("hosted-10.0.0.9:11111@1+a3467a63b95f408b8c7c8d52d76d5479"));                 // no member at all
        Assert.False(Gets("hosted-not an address"));
        Assert.False(Gets("hosted-"));
        Assert.False(Gets("3f2c6d1e9a7b4c5d8e0f1a2b3c4d5e6f"));                                        // an ordinary client
    }
}
