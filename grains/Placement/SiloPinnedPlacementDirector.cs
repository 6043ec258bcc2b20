using Orleans.Runtime.Placement;
using SpecEdge.Grains.Verification;

namespace SpecEdge.Grains.Placement;

/// <summary>Resolves the silo name in a <see cref="VerifierKey"/> to that silo's address among the live members.</summary>
public sealed class SiloPinnedPlacementDirector(IClusterMembershipService membership) : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = VerifierKey.Parse(target.GrainIdentity.Key.ToString()!);
        var compatible = context.GetCompatibleSilos(target).ToHashSet();
        foreach (var member in membership.CurrentSnapshot.Members.Values)
        {
            if (member.Status == SiloStatus.Active && member.Name == key.Silo && compatible.Contains(member.SiloAddress))
                return Task.FromResult(member.SiloAddress);
        }
        throw new OrleansException($"Verifier '{key}' is pinned to silo '{key.Silo}', which is not an active member of the cluster.");
    }
}
