using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace SpecEdge.Grains.Security;

/// <summary>
/// Turns on credential checks: every call from a client must carry a valid credential its role allows (deny by
/// default); silos stamp their own calls. Every silo of a cluster needs it, with the same keys.
/// </summary>
public static class SecuritySiloBuilderExtensions
{
    public static ISiloBuilder AddSpecEdgeSecurity(this ISiloBuilder silo, Action<SecurityOptions> configure)
    {
        silo.Services.AddOptions<SecurityOptions>().Configure(configure);
        return AddCore(silo);
    }

    public static ISiloBuilder AddSpecEdgeSecurity(this ISiloBuilder silo, IConfiguration configuration)
    {
        silo.Services.AddOptions<SecurityOptions>().Bind(configuration.GetSection(SecurityOptions.Section));
        return AddCore(silo);
    }

    private static ISiloBuilder AddCore(ISiloBuilder silo)
    {
        silo.Services.TryAddSingleton(TimeProvider.System);
        silo.Services.AddSingleton<SigningKeys>();
        silo.Services.AddSingleton<VerifiedCredentials>();
        silo.Services.AddSingleton<EdgeCallRateLimiter>();
        silo.Services.AddSingleton<SiloCredential>();
        silo.AddIncomingGrainCallFilter<CallAuthorizationFilter>();
        silo.AddOutgoingGrainCallFilter<SiloCredentialOutgoingFilter>();
        return silo;
    }
}
