using Azure.Storage.Blobs;
using Orleans.Hosting;
using SpecEdge.Grains.Persistence;

namespace SpecEdge.Benchmarks;

/// <summary>
/// The grain storage providers the storage benchmark compares, registered as a silo registers them. Until commit
/// 5e32f07 this compared our hand-written provider with Orleans' (docs/benchmarks/storage.md); ours is gone, so now it
/// compares Orleans' provider alone with what the silo runs: the same provider behind the legacy read fallback.
/// </summary>
internal static class StorageProviders
{
    public static readonly string[] Names = ["Orleans AzureStorage + System.Text.Json", "the same behind the legacy fallback (silo)"];

    public static void Register(ISiloBuilder silo, string connectionString, string container)
    {
        silo.UseSystemTextJsonGrainStorageSerializer();
        silo.AddAzureBlobGrainStorage(Names[0], o => { o.BlobServiceClient = new BlobServiceClient(connectionString); o.ContainerName = container + "-o"; });
        silo.AddSpecEdgeBlobStorage(Names[1], connectionString, container);
    }
}
