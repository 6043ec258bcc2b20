using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace SpecEdge.Contracts.Security;

/// <summary>Registers <see cref="CredentialOutgoingFilter"/> on an Orleans client.</summary>
public static class ClientCredentialExtensions
{
    public static IClientBuilder AddSpecEdgeCredential(this IClientBuilder client, Action<ClientCredentialOptions> configure)
    {
        client.Services.AddOptions<ClientCredentialOptions>().Configure(configure);
        client.AddOutgoingGrainCallFilter<CredentialOutgoingFilter>();
        return client;
    }

    public static IClientBuilder AddSpecEdgeCredential(this IClientBuilder client, IConfiguration section)
    {
        client.Services.AddOptions<ClientCredentialOptions>().Bind(section);
        client.AddOutgoingGrainCallFilter<CredentialOutgoingFilter>();
        return client;
    }
}
