using Azure.Storage.Blobs;
using Orleans.Hosting;

namespace SpecEdge.Benchmarks;

/// <summary>The grain storage providers the storage benchmark compares, registered as a silo registers them.</summary>
internal static class StorageProviders
{
    public static readonly string[] Names = ["ours (SpecEdge.Grains.Persistence)", "Orleans AzureStorage + System.Text.Json"];

    public static void Register(ISiloBuilder silo, string connectionString, string container)
    {
        SpecEdge.Grains.Persistence.AzureBlobGrainStorageSiloBuilderExtensions.AddAzureBlobGrainStorage(silo, Names[0],
            (SpecEdge.Grains.Persistence.AzureBlobStorageOptions o) => { o.ConnectionString = connectionString; o.ContainerName = container; });
        silo.UseSystemTextJsonGrainStorageSerializer();
        Orleans.Hosting.AzureBlobSiloBuilderExtensions.AddAzureBlobGrainStorage(silo, Names[1],
            (Orleans.Configuration.AzureBlobStorageOptions o) => { o.BlobServiceClient = new BlobServiceClient(connectionString); o.ContainerName = container + "-o"; });
    }
}
