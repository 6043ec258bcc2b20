using System.Text.Json;
using System.Text.RegularExpressions;
using Orleans.Runtime;

namespace SpecEdge.Grains.Persistence;

/// <summary>
/// Settings of one <see cref="AzureBlobGrainStorage"/> provider (named options, one set per provider name).
/// The timeouts are deliberately short: a silo whose storage is gone should say so within seconds, not hang in the
/// SDK's default retry schedule (6 retries with exponential back-off, 100 s per attempt).
/// </summary>
public sealed partial class AzureBlobStorageOptions
{
    public const string DefaultContainerName = "specedge-grainstate";

    /// <summary>Azure Storage connection string (for Azurite: the well-known devstoreaccount1 string). Required.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Blob container holding one blob per grain state; created at silo start-up if missing.</summary>
    public string ContainerName { get; set; } = DefaultContainerName;

    /// <summary>Time allowed for one HTTP attempt (connect + request + response).</summary>
    public TimeSpan NetworkTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Retries of a failed attempt (transport errors, 408/429/5xx); 412/409/404 are never retried.</summary>
    public int MaxRetries { get; set; } = 2;

    /// <summary>First back-off between retries (exponential, capped by <see cref="MaxRetryDelay"/>).</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Upper bound for one storage operation including all its retries.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Silo lifecycle stage at which the container is created (before grains can activate).</summary>
    public int InitStage { get; set; } = ServiceLifecycleStage.ApplicationServices;

    /// <summary>Serializer settings for state blobs; null means <see cref="JsonSerializerDefaults.General"/>.</summary>
    public JsonSerializerOptions? JsonSerializerOptions { get; set; }

    /// <summary>Throws <see cref="OrleansConfigurationException"/> naming the provider and the offending setting.</summary>
    public void Validate(string providerName)
    {
        string Prefix() => $"Azure Blob grain storage '{providerName}': {nameof(AzureBlobStorageOptions)}.";
        if (string.IsNullOrWhiteSpace(ConnectionString))
            throw new OrleansConfigurationException(
                $"{Prefix()}{nameof(ConnectionString)} is missing. Set it in the configure delegate or in the bound " +
                "configuration section (for Azurite: DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=...;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;).");
        if (!ContainerNamePattern().IsMatch(ContainerName ?? "") || ContainerName!.Contains("--", StringComparison.Ordinal))
            throw new OrleansConfigurationException(
                $"{Prefix()}{nameof(ContainerName)} '{ContainerName}' is not a valid container name " +
                "(3-63 characters: lowercase letters, digits and single hyphens, starting and ending with a letter or digit).");
        if (NetworkTimeout <= TimeSpan.Zero || OperationTimeout <= TimeSpan.Zero)
            throw new OrleansConfigurationException($"{Prefix()}{nameof(NetworkTimeout)} and {nameof(OperationTimeout)} must be positive.");
        if (MaxRetries < 0 || RetryDelay < TimeSpan.Zero || MaxRetryDelay < RetryDelay)
            throw new OrleansConfigurationException(
                $"{Prefix()}{nameof(MaxRetries)} must be >= 0 and 0 <= {nameof(RetryDelay)} <= {nameof(MaxRetryDelay)}.");
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex ContainerNamePattern();
}
