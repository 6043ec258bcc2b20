using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using Orleans.Storage;
using SpecEdge.Contracts;

namespace SpecEdge.Grains.Persistence;

/// <summary>
/// Sits in front of Orleans' Azure Blob provider and decides what grain key it sees, because that provider puts the key
/// into the blob's path as it is and the blob SDK then normalises the path: the key <c>mallory/../local/victim-1</c>
/// addressed tenant local's blob. A caller may assume:
/// <list type="bullet">
/// <item>Keys of grains that name a conversation or a tenant must parse (<see cref="ConversationId"/>, or a tenant
/// segment) before any storage is touched; otherwise the read, write or clear fails with an
/// <see cref="ArgumentException"/> that names the key and the rule it breaks.</item>
/// <item>Every key reaches the provider escaped into one path segment (<see cref="LegacyBlobName.Escape"/>: letters,
/// digits, '-' and '_' kept, every other byte <c>~XX</c>), so distinct keys never share a blob and no key contains a
/// '/' or '.' that an SDK could collapse, whatever it does with paths.</item>
/// <item>State written before keys were escaped (the provider's blob under the raw key) is still read when the raw key
/// is a plain path (segments of letters, digits, '.', '_', '-', none of them '.' or '..' or ending in '.'); it is
/// returned without an ETag, so the first write creates the escaped blob with <c>If-None-Match: *</c> and racing
/// activations still conflict, and that first write then deletes the raw-key blob.</item>
/// </list>
/// </summary>
public sealed partial class EscapedKeyGrainStorage(string name, IGrainStorage inner, ILogger<EscapedKeyGrainStorage> logger) : IGrainStorage
{
    /// <summary>Grain types keyed by a conversation id (SessionGrain's [GrainType]).</summary>
    private const string ConversationKeyed = "session";

    /// <summary>Grain types keyed by a tenant (ConversationIndexGrain, TenantQuotaGrain).</summary>
    private static readonly HashSet<string> TenantKeyed = new(StringComparer.Ordinal) { "conversationindex", "tenantquota" };

    /// <summary>Grains read from their raw-key blob and not yet written: the ETag that blob had, to delete it after the first write.</summary>
    private readonly ConcurrentDictionary<(string State, GrainId Grain), string?> _unmigrated = new();

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var escaped = Escaped(grainId);
        await inner.ReadStateAsync(stateName, escaped, grainState).ConfigureAwait(false);
        if (grainState.RecordExists || !IsPlainPath(grainId.Key.ToString()!)) return;

        var old = new GrainState<T>();
        await inner.ReadStateAsync(stateName, grainId, old).ConfigureAwait(false);
        if (!old.RecordExists) return;
        grainState.State = old.State;
        grainState.RecordExists = true;
        grainState.ETag = null;
        _unmigrated[(stateName, grainId)] = old.ETag;
        LogRawKeyRead(name, grainId);
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.WriteStateAsync(stateName, Escaped(grainId), grainState).ConfigureAwait(false);
        await DeleteRawKeyBlobAsync<T>(stateName, grainId).ConfigureAwait(false);
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        await inner.ClearStateAsync(stateName, Escaped(grainId), grainState).ConfigureAwait(false);
        await DeleteRawKeyBlobAsync<T>(stateName, grainId).ConfigureAwait(false);
    }

    /// <summary>The grain id the provider sees: same type, key escaped into one safe segment. Refuses keys that do not parse.</summary>
    public static GrainId Escaped(GrainId grainId)
    {
        string key = grainId.Key.ToString()!;
        if (KeyError(grainId.Type.ToString()!, key) is { } error)
            throw new ArgumentException($"Grain storage refuses {grainId.Type} key {Shown(key)}: {error}", nameof(grainId));
        return GrainId.Create(grainId.Type, IdSpan.Create(LegacyBlobName.Escape(key)));
    }

    /// <summary>Why <paramref name="key"/> cannot be the key of a grain of type <paramref name="type"/>, or null.</summary>
    internal static string? KeyError(string type, string key) =>
        type == ConversationKeyed ? (ConversationId.TryParse(key, out _, out var error) ? null : error)
        : TenantKeyed.Contains(type) ? ConversationId.SegmentError(key, "tenant")
        : null;

    /// <summary>Whether the provider's unescaped blob name for <paramref name="key"/> can only ever have meant this key.</summary>
    internal static bool IsPlainPath(string key) =>
        key.Length > 0 && key.Split('/').All(segment =>
            segment.Length > 0 && segment is not ("." or "..") && !segment.EndsWith('.')
            && segment.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-'));

    private async Task DeleteRawKeyBlobAsync<T>(string stateName, GrainId grainId)
    {
        if (!_unmigrated.TryRemove((stateName, grainId), out var etag)) return;
        try
        {
            await inner.ClearStateAsync(stateName, grainId, new GrainState<T> { ETag = etag, RecordExists = true }).ConfigureAwait(false);
            LogMigrated(name, grainId);
        }
        catch (Exception e)
        {
            // The escaped blob is written and wins every later read; failing the write would make the caller retry a
            // write that succeeded. The raw-key blob is only unreachable clutter now.
            LogMigrationDeleteFailed(e, name, grainId);
        }
    }

    private static string Shown(string key) => key.Length <= 80 ? $"'{key}'" : $"'{key[..80]}…' ({key.Length} characters)";

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain storage {Name}: {GrainId} read from its blob under the unescaped key")]
    private partial void LogRawKeyRead(string name, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain storage {Name}: {GrainId} moved to its escaped-key blob, the unescaped one deleted")]
    private partial void LogMigrated(string name, GrainId grainId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain storage {Name}: {GrainId} is written, but deleting its blob under the unescaped key failed")]
    private partial void LogMigrationDeleteFailed(Exception exception, string name, GrainId grainId);
}
