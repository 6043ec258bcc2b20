using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Runtime.Hosting;
using Orleans.Storage;

namespace SpecEdge.Grains.Persistence;

/// <summary>Durable grain storage for sessions on Azure Blob Storage (or Azurite).</summary>
public static class BlobSessionStorageSiloBuilderExtensions
{
    /// <summary>
    /// Registers grain storage <paramref name="name"/>: Orleans' Azure Blob provider
    /// (Microsoft.Orleans.Persistence.AzureStorage) with the System.Text.Json storage serializer, behind
    /// <see cref="EscapedKeyGrainStorage"/> (keys parsed and escaped into one blob-name segment, so no key can address
    /// another grain's blob) and <see cref="LegacyBlobFallbackGrainStorage"/> (conversations saved by the provider it
    /// replaced are read, and migrated on their next write). The container is created when the silo starts; ETag conflicts surface as
    /// <see cref="InconsistentStateException"/>.
    /// </summary>
    public static ISiloBuilder AddSpecEdgeBlobStorage(this ISiloBuilder silo, string name, string connectionString, string container)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new ArgumentException($"Grain storage '{name}': the Azure Storage connection string is empty.", nameof(connectionString));
        // Orleans' default storage serializer is Newtonsoft with $type names; session state is plain data.
        silo.UseSystemTextJsonGrainStorageSerializer();
        string official = OfficialProviderName(name);
        silo.AddAzureBlobGrainStorage(official, o =>
        {
            o.BlobServiceClient = new BlobServiceClient(connectionString);
            o.ContainerName = container;
            // A cleared conversation leaves no blob behind (and no tombstone the legacy fallback would have to skip).
            o.DeleteStateOnClear = true;
        });
        silo.Services.AddGrainStorage(name, (sp, key) => new LegacyBlobFallbackGrainStorage(
            key,
            new EscapedKeyGrainStorage(key, sp.GetRequiredKeyedService<IGrainStorage>(official), sp.GetRequiredService<ILogger<EscapedKeyGrainStorage>>()),
            new BlobContainerClient(connectionString, container),
            sp.GetRequiredService<ILogger<LegacyBlobFallbackGrainStorage>>()));
        return silo;
    }

    /// <summary>The name Orleans' own provider is registered under, behind the fallback named <paramref name="name"/>.</summary>
    public static string OfficialProviderName(string name) => name + "-orleans-blob";
}
