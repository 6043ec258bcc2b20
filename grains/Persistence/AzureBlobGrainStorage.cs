using System.Diagnostics;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;
using Orleans.Storage;

namespace SpecEdge.Grains.Persistence;

/// <summary>
/// Grain storage on Azure Blob Storage: one JSON blob per (grain, state name), optimistic concurrency through blob
/// ETags. A caller may assume:
/// <list type="bullet">
/// <item>Read sets <c>ETag</c> and <c>RecordExists</c>; a missing blob (or an empty tombstone) reads as a fresh state.</item>
/// <item>Write and Clear send <c>If-Match: ETag</c>, or <c>If-None-Match: *</c> when the caller holds no ETag; a stale
/// caller gets <see cref="InconsistentStateException"/> (StoredEtag = what storage holds now, CurrentEtag = the
/// caller's), and storage is left untouched.</item>
/// <item>An unreachable account fails within <see cref="AzureBlobStorageOptions.OperationTimeout"/> with an
/// <see cref="OrleansException"/> naming the endpoint and container.</item>
/// </list>
/// </summary>
/// <remarks>
/// State is serialized with System.Text.Json rather than Orleans' binary serializer: state types are plain classes with
/// public properties that need no [GenerateSerializer]/[Id] annotations, records with arrays, lists, nested records
/// and longs round-trip exactly, the blobs are readable JSON for operators, and adding or removing a property stays
/// compatible (unknown members are ignored, missing ones keep their defaults).
/// </remarks>
public sealed partial class AzureBlobGrainStorage : IGrainStorage, ILifecycleParticipant<ISiloLifecycle>
{
    private readonly string _name;
    private readonly AzureBlobStorageOptions _options;
    private readonly JsonSerializerOptions _json;
    private readonly BlobContainerClient _container;
    private readonly ILogger _logger;

    public AzureBlobGrainStorage(string name, AzureBlobStorageOptions options, ILogger<AzureBlobGrainStorage> logger)
    {
        options.Validate(name);
        _name = name;
        _options = options;
        _logger = logger;
        _json = options.JsonSerializerOptions ?? new JsonSerializerOptions(JsonSerializerDefaults.General);
        var clientOptions = new BlobClientOptions
        {
            Retry =
            {
                Mode = RetryMode.Exponential,
                MaxRetries = options.MaxRetries,
                Delay = options.RetryDelay,
                MaxDelay = options.MaxRetryDelay,
                NetworkTimeout = options.NetworkTimeout,
            },
        };
        _container = new BlobContainerClient(options.ConnectionString, options.ContainerName, clientOptions);
    }

    /// <summary>The container this provider writes to (endpoint + container name, no credentials).</summary>
    public Uri ContainerUri => _container.Uri;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(AzureBlobGrainStorage)}-{_name}", _options.InitStage, InitializeAsync);

    /// <summary>Creates the container if it does not exist; the silo does not start when this fails.</summary>
    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var stopwatch = Stopwatch.StartNew();
        await RunAsync("create", null, async ct =>
        {
            await _container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false);
            return 0;
        }, cancellationToken).ConfigureAwait(false);
        LogInitialized(_name, _container.Uri, stopwatch.ElapsedMilliseconds);
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ReadStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(GrainStateBlobName.For(stateName, grainId));
        var download = await RunAsync("read", blob.Name, async ct =>
        {
            try
            {
                return (await blob.DownloadContentAsync(ct).ConfigureAwait(false)).Value;
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                return null; // no blob, or no container yet: both mean "never written"
            }
        }, cancellationToken).ConfigureAwait(false);

        if (download is null || download.Content.ToMemory().IsEmpty)
        {
            grainState.State = CreateDefault<T>();
            grainState.ETag = download?.Details.ETag.ToString();
            grainState.RecordExists = false;
            return;
        }

        grainState.State = Deserialize<T>(download.Content, blob.Name);
        grainState.ETag = download.Details.ETag.ToString();
        grainState.RecordExists = true;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        WriteStateAsync(stateName, grainId, grainState, CancellationToken.None);

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(GrainStateBlobName.For(stateName, grainId));
        var content = BinaryData.FromBytes(JsonSerializer.SerializeToUtf8Bytes(grainState.State, _json));
        var upload = new BlobUploadOptions
        {
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" },
            Conditions = ConditionsFor(grainState.ETag),
        };

        var info = await RunAsync("write", blob.Name, async ct =>
        {
            try
            {
                return await UploadAsync(blob, content, upload, grainState.ETag, ct).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (e.ErrorCode == BlobErrorCode.ContainerNotFound)
            {
                // Someone deleted the container after start-up: recreate it once rather than fail every write.
                await _container.CreateIfNotExistsAsync(cancellationToken: ct).ConfigureAwait(false);
                return await UploadAsync(blob, content, upload, grainState.ETag, ct).ConfigureAwait(false);
            }
        }, cancellationToken).ConfigureAwait(false);

        grainState.ETag = info.ETag.ToString();
        grainState.RecordExists = true;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        ClearStateAsync(stateName, grainId, grainState, CancellationToken.None);

    /// <summary>Deletes the blob under the same ETag condition as a write; a later write then needs no ETag.</summary>
    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState, CancellationToken cancellationToken)
    {
        var blob = _container.GetBlobClient(GrainStateBlobName.For(stateName, grainId));
        await RunAsync("clear", blob.Name, async ct =>
        {
            if (grainState.ETag is null)
            {
                // The caller believes there is no record. Nothing is deleted without If-Match (Azurite ignores
                // If-None-Match on delete), so only check that belief.
                if (await blob.ExistsAsync(ct).ConfigureAwait(false))
                    throw await ConflictAsync(blob, "clear", null, null, ct).ConfigureAwait(false);
                return 0;
            }

            try
            {
                await blob.DeleteAsync(conditions: ConditionsFor(grainState.ETag), cancellationToken: ct).ConfigureAwait(false);
            }
            catch (RequestFailedException e) when (IsConcurrencyConflict(e, grainState.ETag))
            {
                throw await ConflictAsync(blob, "clear", grainState.ETag, e, ct).ConfigureAwait(false);
            }
            return 0;
        }, cancellationToken).ConfigureAwait(false);

        grainState.State = CreateDefault<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private async Task<BlobContentInfo> UploadAsync(BlobClient blob, BinaryData content, BlobUploadOptions upload, string? etag, CancellationToken ct)
    {
        try
        {
            return (await blob.UploadAsync(content, upload, ct).ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException e) when (IsConcurrencyConflict(e, etag))
        {
            throw await ConflictAsync(blob, "write", etag, e, ct).ConfigureAwait(false);
        }
    }

    private static BlobRequestConditions ConditionsFor(string? etag) =>
        etag is null ? new BlobRequestConditions { IfNoneMatch = ETag.All } : new BlobRequestConditions { IfMatch = new ETag(etag) };

    // 412: If-Match/If-None-Match failed. 409 BlobAlreadyExists: If-None-Match: * met an existing blob.
    // 404 BlobNotFound with an ETag in hand: the record was cleared by someone else since we read it.
    private static bool IsConcurrencyConflict(RequestFailedException e, string? etag) =>
        e.Status == 412
        || (e.Status == 409 && e.ErrorCode == BlobErrorCode.BlobAlreadyExists)
        || (e.Status == 404 && etag is not null && e.ErrorCode != BlobErrorCode.ContainerNotFound);

    private async Task<InconsistentStateException> ConflictAsync(BlobClient blob, string operation, string? etag, RequestFailedException? cause, CancellationToken ct)
    {
        string? stored = null;
        try
        {
            stored = (await blob.GetPropertiesAsync(cancellationToken: ct).ConfigureAwait(false)).Value.ETag.ToString();
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // The blob is gone: stored ETag stays null.
        }

        LogConflict(_name, operation, blob.Name, etag, stored);
        return new InconsistentStateException(
            $"Azure Blob grain storage '{_name}': {operation} of blob '{blob.Name}' in container '{_container.Name}' was rejected " +
            $"because the stored state changed since it was read (stored ETag {stored ?? "<none>"}, caller's ETag {etag ?? "<none>"}).",
            stored, etag, cause);
    }

    /// <summary>
    /// Runs one storage operation under <see cref="AzureBlobStorageOptions.OperationTimeout"/> and turns transport
    /// failures and unexpected service errors into an <see cref="OrleansException"/> that names endpoint and container.
    /// </summary>
    private async Task<TResult> RunAsync<TResult>(string operation, string? blobName, Func<CancellationToken, Task<TResult>> action, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.OperationTimeout);
        var stopwatch = Stopwatch.StartNew();
        try
        {
            return await action(timeout.Token).ConfigureAwait(false);
        }
        catch (InconsistentStateException)
        {
            throw;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var what = blobName is null ? $"container '{_container.Name}'" : $"blob '{blobName}' in container '{_container.Name}'";
            var why = e switch
            {
                RequestFailedException { Status: > 0 } rfe => $"the service answered {rfe.Status} {rfe.ErrorCode}: {FirstLine(rfe.Message)}",
                OperationCanceledException => $"no answer within {_options.OperationTimeout.TotalSeconds:0.#} s",
                _ => $"the account is unreachable ({FirstLine(e.Message)})",
            };
            LogFailure(e, _name, operation, what, _container.Uri, stopwatch.ElapsedMilliseconds);
            throw new OrleansException(
                $"Azure Blob grain storage '{_name}': {operation} {what} at {EndpointOf(_container.Uri)} failed after " +
                $"{stopwatch.Elapsed.TotalSeconds:0.0} s: {why}.", e);
        }
    }

    private T Deserialize<T>(BinaryData content, string blobName)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(content.ToMemory().Span, _json) ?? CreateDefault<T>();
        }
        catch (JsonException e)
        {
            throw new OrleansException(
                $"Azure Blob grain storage '{_name}': blob '{blobName}' in container '{_container.Name}' does not hold JSON for {typeof(T).FullName}: {e.Message}", e);
        }
    }

    private static T CreateDefault<T>() =>
        typeof(T).IsValueType || typeof(T).GetConstructor(Type.EmptyTypes) is null ? default! : Activator.CreateInstance<T>();

    private static string EndpointOf(Uri container) => container.GetLeftPart(UriPartial.Authority) + container.AbsolutePath;

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    [LoggerMessage(Level = LogLevel.Information, Message = "Azure Blob grain storage {Name}: container {Container} ready in {ElapsedMs} ms")]
    private partial void LogInitialized(string name, Uri container, long elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Azure Blob grain storage {Name}: {Operation} of {Blob} rejected, stored ETag {Stored}, caller's ETag {Caller}")]
    private partial void LogConflict(string name, string operation, string blob, string? caller, string? stored);

    [LoggerMessage(Level = LogLevel.Error, Message = "Azure Blob grain storage {Name}: {Operation} {What} at {Container} failed after {ElapsedMs} ms")]
    private partial void LogFailure(Exception exception, string name, string operation, string what, Uri container, long elapsedMs);
}
