using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Hosting;
using Orleans.Providers;
using Orleans.Runtime.Hosting;

namespace SpecEdge.Grains.Persistence;

/// <summary>
/// Registers <see cref="AzureBlobGrainStorage"/> as a named grain storage provider (the name grains give in
/// <c>[PersistentState("state", name)]</c>). Options are validated when the silo starts and the container is created
/// during the silo lifecycle, so a misconfigured or unreachable account stops start-up with a clear message.
/// </summary>
public static class AzureBlobGrainStorageSiloBuilderExtensions
{
    public static ISiloBuilder AddAzureBlobGrainStorage(this ISiloBuilder builder, string name, Action<AzureBlobStorageOptions> configure) =>
        builder.AddAzureBlobGrainStorageCore(name, options => options.Configure(configure));

    /// <summary>Binds the options from a configuration section (keys named like the <see cref="AzureBlobStorageOptions"/> properties).</summary>
    public static ISiloBuilder AddAzureBlobGrainStorage(this ISiloBuilder builder, string name, IConfiguration section) =>
        builder.AddAzureBlobGrainStorageCore(name, options => options.Bind(section));

    /// <summary>Registers the provider under Orleans' default storage name, used by grains that name no storage.</summary>
    public static ISiloBuilder AddAzureBlobGrainStorageAsDefault(this ISiloBuilder builder, Action<AzureBlobStorageOptions> configure) =>
        builder.AddAzureBlobGrainStorage(ProviderConstants.DEFAULT_STORAGE_PROVIDER_NAME, configure);

    private static ISiloBuilder AddAzureBlobGrainStorageCore(this ISiloBuilder builder, string name, Action<OptionsBuilder<AzureBlobStorageOptions>> configure) =>
        builder.ConfigureServices(services =>
        {
            configure(services.AddOptions<AzureBlobStorageOptions>(name));
            services.AddTransient<IConfigurationValidator>(sp => new AzureBlobStorageOptionsValidator(
                name, sp.GetRequiredService<IOptionsMonitor<AzureBlobStorageOptions>>().Get(name)));
            // AddGrainStorage registers a keyed IGrainStorage and, because the type is an
            // ILifecycleParticipant<ISiloLifecycle>, subscribes it to the silo lifecycle.
            services.AddGrainStorage(name, (sp, key) => new AzureBlobGrainStorage(
                key,
                sp.GetRequiredService<IOptionsMonitor<AzureBlobStorageOptions>>().Get(key),
                sp.GetRequiredService<ILogger<AzureBlobGrainStorage>>()));
        });
}
