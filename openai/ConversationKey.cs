using System.Security.Cryptography;
using System.Text.Json;
using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// The key of a conversation as a client holds it: a hash of (tenant, model, system prompt, every message exactly as
/// sent and returned). A request whose earlier messages hash to the key of a finished reply continues that reply's
/// session. Serialised as JSON before hashing, so no two different conversations can share an input.
/// </summary>
public static class ConversationKey
{
    public static string Of(string tenant, string model, string? systemPrompt, IEnumerable<ChatTurn> turns)
    {
        var input = new List<string?> { tenant, model, systemPrompt };
        foreach (var turn in turns) { input.Add(turn.Role); input.Add(turn.Content); }
        return Convert.ToHexString(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(input)));
    }
}
