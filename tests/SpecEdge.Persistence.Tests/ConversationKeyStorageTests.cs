using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using SpecEdge.Contracts;
using SpecEdge.Grains.Persistence;
using SpecEdge.Grains.Sessions;
using Xunit;

namespace SpecEdge.Persistence.Tests;

/// <summary>
/// Session storage against Azurite, attacked with the ids of the isolation issue: a key that does not parse as a
/// conversation id touches no blob (the container is listed before and after, byte for byte), keys an SDK would
/// collapse into one path stay in blobs of their own, and state written under the unescaped key before this change is
/// still found and moved.
/// </summary>
[Collection(AzuriteCollection.Name)]
[Trait("Kind", "process")]
public sealed class ConversationKeyStorageTests(AzuriteFixture azurite)
{
    private static readonly string[] TraversalKeys =
    [
        "mallory/../local/victim-1", "mallory/./../local/victim-1", "local/victim-1/.", "local/./victim-1", "mallory/%2e%2e/local/victim-1",
        "mallory\\..\\local/victim-1", "./local/victim-1", "local//victim-1", "local/v\u0456ctim-1", "local/" + new string('v', 10_000),
        "mallory/../../conversationindex/local",
    ];

    [Fact]
    public async Task HostileSessionKeys_AreRefusedByName_AndTouchNoBlob()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var container = new BlobContainerClient(azurite.ConnectionString, silo.Container);
        var victim = GrainId.Create("session", "local/victim-1");
        await silo.Storage.WriteStateAsync("session", victim, new GrainState<SessionState> { State = new SessionState { Messages = [new ChatTurn("user", "secret")] } });
        var before = await ListAsync(container);

        foreach (var key in TraversalKeys)
        {
            var hostile = GrainId.Create("session", key);
            var read = await Assert.ThrowsAsync<ArgumentException>(() => silo.Storage.ReadStateAsync("session", hostile, new GrainState<SessionState>()));
            Assert.Contains("conversation id", read.Message);
            var write = new GrainState<SessionState> { State = new SessionState { Messages = [new ChatTurn("user", "injected")] } };
            await Assert.ThrowsAsync<ArgumentException>(() => silo.Storage.WriteStateAsync("session", hostile, write));
            await Assert.ThrowsAsync<ArgumentException>(() => silo.Storage.ClearStateAsync("session", hostile, write));
        }

        Assert.Equal(before, await ListAsync(container));
        var stored = await SessionBlobStorageTests.ReadAsync<SessionState>(silo.Storage, victim, "session");
        Assert.Equal("secret", Assert.Single(stored.State.Messages).Content);
    }

    [Fact]
    public async Task TenantKeyedGrains_RefuseKeysThatAreNotOneSegment()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        foreach (var key in new[] { "../local", "a/b", ".", "" + new string('t', 65) })
        {
            var e = await Assert.ThrowsAsync<ArgumentException>(() =>
                silo.Storage.WriteStateAsync("conversation-index", GrainId.Create("conversationindex", key), new GrainState<SampleState> { State = new SampleState() }));
            Assert.Contains("tenant", e.Message);
        }
    }

    [Fact]
    public async Task KeysAPathNormaliserWouldMerge_StayInBlobsOfTheirOwn()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var container = new BlobContainerClient(azurite.ConnectionString, silo.Container);
        string[] keys = ["b", "a/../b", "./b", "b.", "x/./b"];
        foreach (var key in keys)
            await silo.Storage.WriteStateAsync("state", GrainId.Create("sample", key), new GrainState<SampleState> { State = SessionBlobStorageTests.Sample(key) });

        var blobs = await ListAsync(container);
        Assert.Equal(keys.Length, blobs.Count);
        Assert.All(blobs.Keys, name => Assert.DoesNotContain("/.", name));
        foreach (var key in keys)
            Assert.Equal(key, (await SessionBlobStorageTests.ReadAsync<SampleState>(silo.Storage, GrainId.Create("sample", key))).State.Name);
    }

    [Fact]
    public async Task StateUnderTheUnescapedKey_IsRead_ThenMovedOnItsFirstWrite()
    {
        await using var silo = await StorageSilo.StartAsync(azurite);
        var container = new BlobContainerClient(azurite.ConnectionString, silo.Container);
        var official = silo.Cluster.Silos[0].ServiceProvider.GetRequiredKeyedService<IGrainStorage>(BlobSessionStorageSiloBuilderExtensions.OfficialProviderName(StorageSilo.ProviderName));
        var id = GrainId.Create("session", "local/chat-before-escaping");
        // What the silo stored before keys were escaped: Orleans' provider under the raw key.
        await official.WriteStateAsync("session", id, new GrainState<SessionState> { State = new SessionState { Committed = [1, 2, 3], Step = 7 } });
        var rawBlob = Assert.Single((await ListAsync(container)).Keys);

        var read = await SessionBlobStorageTests.ReadAsync<SessionState>(silo.Storage, id, "session");
        Assert.True(read.RecordExists);
        Assert.Null(read.ETag);   // the first write creates the escaped blob with If-None-Match: *
        Assert.Equal([1, 2, 3], read.State.Committed);
        Assert.Equal(7, read.State.Step);

        read.State.Step = 8;
        await silo.Storage.WriteStateAsync("session", id, read);
        var after = await ListAsync(container);
        Assert.DoesNotContain(rawBlob, after.Keys);
        Assert.Single(after);
        Assert.Equal(8, (await SessionBlobStorageTests.ReadAsync<SessionState>(silo.Storage, id, "session")).State.Step);
    }

    /// <summary>Every blob of the container with its content, to compare before and after.</summary>
    private static async Task<Dictionary<string, string>> ListAsync(BlobContainerClient container)
    {
        var blobs = new Dictionary<string, string>();
        await foreach (var item in container.GetBlobsAsync())
            blobs[item.Name] = (await container.GetBlobClient(item.Name).DownloadContentAsync()).Value.Content.ToString();
        return blobs;
    }
}
