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
        silo.Services.AddSingleton<RefusalLog>();
        silo.Services.AddSingleton<SiloCredential>();
        silo.AddIncomingGrainCallFilter<CallAuthorizationFilter>();
        silo.AddOutgoingGrainCallFilter<SiloCredentialOutgoingFilter>();
        // Orleans reads a message whole before any filter sees it, up to 100 MB by default: bound what a peer can make a
        // silo buffer to what the largest honest message needs (a long conversation's snapshot or history).
        silo.Services.AddOptions<Orleans.Configuration.SiloMessagingOptions>().Configure<Microsoft.Extensions.Options.IOptions<SecurityOptions>>((messaging, security) =>
        {
            messaging.MaxMessageBodySize = security.Value.MaxMessageBodyBytes;
            messaging.MaxMessageHeaderSize = security.Value.MaxMessageHeaderBytes;
        });
        return silo;
    }
}
