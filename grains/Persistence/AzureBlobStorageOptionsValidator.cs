using Orleans;

namespace SpecEdge.Grains.Persistence;

/// <summary>Runs <see cref="AzureBlobStorageOptions.Validate"/> when the silo starts, before any storage call.</summary>
internal sealed class AzureBlobStorageOptionsValidator(string providerName, AzureBlobStorageOptions options) : IConfigurationValidator
{
    public void ValidateConfiguration() => options.Validate(providerName);
}
