using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Storage;

namespace SpecEdge.Grains.Persistence;

/// <summary>
/// Orleans' Azure Blob grain storage, plus a read fallback for state written by the provider it replaced (blobs named
/// <c>{type}/{key}/{state}.json</c>, System.Text.Json, see <see cref="LegacyBlobName"/>), so a conversation saved
/// before the switch never silently starts empty. A caller may assume:
/// <list type="bullet">
/// <item>Read: what Orleans' provider holds wins. Only when it holds no record is the old blob looked up; if one exists
/// its state is returned with <c>RecordExists = true</c> and no ETag, so the first write creates the new blob with
/// <c>If-None-Match: *</c> and two activations racing on a migrated conversation still conflict
/// (<see cref="InconsistentStateException"/> for the loser). An old blob that is not valid JSON for the state type
/// fails the read instead of reading as empty.</item>
/// <item>The first successful write of a grain (one without an ETag) and every clear delete the old blob, so a
/// conversation migrates on its first write and a cleared one never comes back from the old layout.</item>
/// <item>Errors of Orleans' provider (ETag conflicts, an unreachable account) pass through unchanged.</item>
/// </list>
/// </summary>
/// <remarks>
/// The two layouts cannot collide in one container: Orleans names a blob <c>{state}-{type}/{key}.json</c>, so its
/// first path segment is never a bare grain type, which is what every old blob name starts with.
/// </remarks>
public sealed partial class LegacyBlobFallbackGrainStorage(
    string name, IGrainStorage inner, BlobContainerClient legacyContainer, ILogger<LegacyBlobFallbackGrainStorage> logger) : IGrainStorage
{
    // The replaced provider's settings: JsonSerializerDefaults.General, public properties, case-sensitive names.
    private static readonly JsonSerializerOptions LegacyJson = new(JsonSerializerDefaults.General);

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.ReadStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        if (grainState.RecordExists) return;

        var blob = legacyContainer.GetBlobClient(LegacyBlobName.For(stateName, grainId));
        BlobDownloadResult download;
        try
        {
            download = (await blob.DownloadContentAsync().ConfigureAwait(false)).Value;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return; // no old blob (or no container): a new conversation
        }
        if (download.Content.ToMemory().IsEmpty) return; // the old provider's tombstone of a cleared state

        T? state;
        try
        {
            state = JsonSerializer.Deserialize<T>(download.Content.ToMemory().Span, LegacyJson);
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException(
                $"Grain storage '{name}': the pre-migration blob '{blob.Name}' in container '{legacyContainer.Name}' is not valid JSON " +
                $"for {typeof(T).Name} ({e.Message}); refusing to start {grainId} empty. Fix or delete that blob.", e);
        }
        if (state is null) return;
        grainState.State = state;
        grainState.RecordExists = true;
        grainState.ETag = null;
        LogLegacyRead(name, grainId, blob.Name);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        bool first = grainState.ETag is null;
        await inner.WriteStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        if (first) await DeleteLegacyAsync(stateName, grainId).ConfigureAwait(false);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.ClearStateAsync(stateName, grainId, grainState).ConfigureAwait(false);
        await DeleteLegacyAsync(stateName, grainId).ConfigureAwait(false);
    }

    private async Task DeleteLegacyAsync(string stateName, GrainId grainId)
    {
        try
        {
            var deleted = await legacyContainer.GetBlobClient(LegacyBlobName.For(stateName, grainId)).DeleteIfExistsAsync().ConfigureAwait(false);
            if (deleted.Value) LogMigrated(name, grainId);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            // No container: nothing to migrate.
        }
        catch (Exception e) when (e is RequestFailedException or IOException or OperationCanceledException)
        {
            // The new blob is written and wins every later read; the old one is retried on the next clear. Failing the
            // write here would make the caller retry a write that succeeded.
            LogMigrationDeleteFailed(e, name, grainId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain storage {Name}: {GrainId} is written, but deleting its pre-migration blob failed")]
    private partial void LogMigrationDeleteFailed(Exception exception, string name, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain storage {Name}: {GrainId} read from its pre-migration blob {Blob}")]
    private partial void LogLegacyRead(string name, GrainId grainId, string blob);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain storage {Name}: {GrainId} migrated, pre-migration blob deleted")]
    private partial void LogMigrated(string name, GrainId grainId);
}
