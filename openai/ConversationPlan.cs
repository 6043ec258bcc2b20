using SpecEdge.Contracts;

namespace SpecEdge.OpenAi;

/// <summary>
/// Which session a request goes to and what it must encode there: a named session (the caller's tenant's only); the
/// session that holds the request's earlier messages exactly as this API returned them (continued from its committed
/// tokens, nothing re-encoded); or a new session that encodes the earlier messages (<see cref="History"/>) first.
/// </summary>
public sealed record ConversationPlan(string SessionId, ChatTurn[] History, string? ClaimedKey)
{
    public bool Continues => ClaimedKey is not null;

    public static async Task<ConversationPlan> ForAsync(OpenAiCaller caller, ReplyJob job, IConversationIndex index)
    {
        if (job.SessionId is { } named)
        {
            // Parsed before any grain is named: "tenant/../other/id" passed the old prefix check.
            if (!ConversationId.TryParse(named, out var id, out var invalid))
                throw new OpenAiException(400, invalid, "session", "invalid_request_error");
            if (!string.Equals(id.Tenant, caller.Tenant, StringComparison.Ordinal))
                throw new OpenAiException(403, $"The session must be one of your tenant's: its id must be '{caller.Tenant}/name'.", "session", "permission_error");
            return new ConversationPlan(id.ToString(), Array.Empty<ChatTurn>(), null);
        }
        string fresh = ConversationId.Create(caller.Tenant, "oa-" + Guid.NewGuid().ToString("N")).ToString();
        if (!job.IsChat || job.Turns.Count == 1) return new ConversationPlan(fresh, Array.Empty<ChatTurn>(), null);
        var earlier = job.Turns.Take(job.Turns.Count - 1).ToArray();
        // Tools render at a conversation's start and calls come back reshaped (tool_calls), so such a conversation is
        // re-encoded whole rather than matched against a session's stored text.
        if (job.UsesTools) return new ConversationPlan(fresh, earlier, null);
        string key = ConversationKey.Of(caller.Tenant, job.Model, job.Settings.SystemPrompt, earlier);
        return await index.ClaimAsync(key) is { } claimed
            ? new ConversationPlan(claimed, Array.Empty<ChatTurn>(), key)
            : new ConversationPlan(fresh, earlier, null);
    }

    public TurnRequest TurnFor(ReplyJob job) => new()
    {
        Settings = job.Settings, History = History, Text = job.Text, Role = job.Role, ToolCallId = job.IsChat ? job.Turns[^1].ToolCallId : null,
    };

    /// <summary>The turn did not start: give a claimed session back, so the next request carrying its conversation still finds it.</summary>
    public Task UndoAsync(IConversationIndex index) => ClaimedKey is null ? Task.CompletedTask : index.RecordAsync(ClaimedKey, SessionId);

    /// <summary>After a whole chat reply: its conversation (the request's messages and the reply as returned) now lives in <paramref name="sessionId"/>.</summary>
    public static Task RecordReplyAsync(IConversationIndex index, OpenAiCaller caller, ReplyJob job, string sessionId, string replyText)
    {
        if (!job.IsChat || job.SessionId is not null || job.UsesTools) return Task.CompletedTask;
        var conversation = job.Turns.Append(new ChatTurn("assistant", replyText));
        return index.RecordAsync(ConversationKey.Of(caller.Tenant, job.Model, job.Settings.SystemPrompt, conversation), sessionId);
    }
}
