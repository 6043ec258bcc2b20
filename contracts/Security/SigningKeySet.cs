using System.Text.Json;

namespace SpecEdge.Contracts.Security;

/// <summary>
/// HMAC-SHA256 keys by key id, and the one that signs new credentials. Read from a JSON file
/// (<c>{"activeKeyId": "k1", "keys": {"k1": "base64 of 32 random bytes"}}</c>) so a key never appears on a command line.
/// </summary>
public sealed class SigningKeySet
{
    public string ActiveKeyId { get; }
    private readonly IReadOnlyDictionary<string, byte[]> _keys;

    public SigningKeySet(string activeKeyId, IReadOnlyDictionary<string, byte[]> keys)
    {
        if (!keys.ContainsKey(activeKeyId)) throw new ArgumentException($"The active key id '{activeKeyId}' is not among the keys.");
        foreach (var (id, key) in keys)
            if (key.Length < 32) throw new ArgumentException($"Signing key '{id}' has {key.Length} bytes; at least 32 are required.");
        ActiveKeyId = activeKeyId;
        _keys = keys;
    }

    public byte[] ActiveKey => _keys[ActiveKeyId];

    public byte[]? Find(string keyId) => _keys.TryGetValue(keyId, out var key) ? key : null;

    public static SigningKeySet FromBase64(string activeKeyId, IReadOnlyDictionary<string, string> keys) =>
        new(activeKeyId, keys.ToDictionary(k => k.Key, k => Convert.FromBase64String(k.Value)));

    public static SigningKeySet Load(string path)
    {
        using var json = JsonDocument.Parse(File.ReadAllText(path));
        string active = json.RootElement.GetProperty("activeKeyId").GetString()
            ?? throw new InvalidDataException($"{path}: activeKeyId is empty.");
        var keys = json.RootElement.GetProperty("keys").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "");
        return FromBase64(active, keys);
    }

    /// <summary>A fresh random key set (development clusters and tests).</summary>
    public static SigningKeySet CreateRandom(string keyId = "k1") =>
        new(keyId, new Dictionary<string, byte[]> { [keyId] = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32) });
}
