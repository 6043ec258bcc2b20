using Microsoft.Extensions.Diagnostics.HealthChecks;
using Orleans.Runtime;

namespace SpecEdge.Silo;

/// <summary>
/// Ready = the models are loaded and this silo is Active in the cluster's membership. A joining silo, one shutting
/// down (so Kubernetes stops routing to it while its sessions move) or one declared dead by the others is not ready.
/// </summary>
public sealed class SiloReadinessHealthCheck(ModelWarmup models, IClusterMembershipService membership, ILocalSiloDetails local) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!models.Loaded) return Task.FromResult(HealthCheckResult.Unhealthy("models are loading"));
        var status = membership.CurrentSnapshot.GetSiloStatus(local.SiloAddress);
        return Task.FromResult(status == SiloStatus.Active
            ? HealthCheckResult.Healthy($"silo {local.Name} active")
            : HealthCheckResult.Unhealthy($"silo {local.Name} is {status} in the cluster"));
    }
}
