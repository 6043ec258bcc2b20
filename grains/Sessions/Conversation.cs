using SpecEdge.Contracts;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// A conversation's persisted state and the only code that changes it: start a turn, apply a verdict, roll back to
/// before a step, end a reply with an error, configure, attach and release an edge, and go back to what storage holds.
/// No I/O and no Orleans: the session grain decides when each transition happens and writes the result; tests can drive
/// the transitions directly. Reads go through <see cref="State"/>.
/// </summary>
public sealed class Conversation(SessionState state)
{
    /// <summary>The state as this activation knows it (including steps not yet durable). Read it; change it only here.</summary>
    public SessionState State { get; private set; } = state;

    /// <summary>The point just before a step: the conversation returns here if that step (or any after it) cannot be saved.</summary>
    public readonly record struct Rollback(int Committed, int Messages, long Step, int Chunks);

    /// <summary>The part of the state a snapshot shows, as one write stores it.</summary>
    public sealed record View(ChatTurn[] Messages, int Committed, long Step, string? AttachedEdge, bool Generating, ulong? Seed, string? SeedOwner);

    public View Capture() => new(State.Messages.ToArray(), State.Committed.Count, State.Step, State.AttachedEdge, State.Generating, State.Settings.Seed, State.SeedOwner);

    /// <summary>Replaces the live state with <paramref name="stored"/> (a copy of what storage holds, after a refused write).</summary>
    public void Restore(SessionState stored) => State = stored;

    public void Configure(GenerationSettings settings, string? seedOwner) => (State.Settings, State.SeedOwner) = (settings, seedOwner);

    public void Attach(string edgeId) => State.AttachedEdge = edgeId;

    public void Release() => State.AttachedEdge = null;

    /// <summary>A turn begins: earlier turns (only into an empty conversation) and the new message (the user's, or a tool's result), encoded as <paramref name="appended"/>.</summary>
    public void StartTurn(GenerationSettings settings, string? seedOwner, string? quotaTenant, IEnumerable<ChatTurn> history, ChatTurn message, int[] appended)
    {
        State.Settings = settings;
        State.SeedOwner = seedOwner;
        State.QuotaTenant = quotaTenant;
        State.Messages.AddRange(history);
        State.Messages.Add(message);
        State.Committed.AddRange(appended);
        State.ReplyChunkSizes.Clear();
        State.ReplyFinish = null;
        State.ReplyStart = State.Committed.Count;
        State.Generating = true;
    }

    /// <summary>
    /// Commits a verdict's tokens as the next chunk; a finishing verdict ends the reply with <paramref name="replyText"/>
    /// as the assistant's message. Returns where to roll back to if it is not saved.
    /// </summary>
    public Rollback ApplyVerdict(StepVerdict verdict, Func<string> replyText)
    {
        if (verdict.Step != State.Step)
            throw new ArgumentException($"Verdict for step {verdict.Step} applied at step {State.Step}.", nameof(verdict));
        var before = new Rollback(State.Committed.Count, State.Messages.Count, State.Step, State.ReplyChunkSizes.Count);
        State.Committed.AddRange(verdict.AcceptedTokens);
        State.Step = verdict.Step + 1;
        if (verdict.Finished)
        {
            State.Generating = false;
            State.Messages.Add(new ChatTurn("assistant", replyText()));
            State.ReplyFinish = PersistedFinish.Write(verdict.FinishReason ?? ReplyFinish.EndOfSequence);
        }
        State.ReplyChunkSizes.Add(verdict.AcceptedTokens.Length);
        return before;
    }

    /// <summary>Back to just before a step: the reply is in progress again from there.</summary>
    public void RollBack(Rollback back)
    {
        State.Committed.RemoveRange(back.Committed, State.Committed.Count - back.Committed);
        State.Messages.RemoveRange(back.Messages, State.Messages.Count - back.Messages);
        State.ReplyChunkSizes.RemoveRange(back.Chunks, State.ReplyChunkSizes.Count - back.Chunks);
        State.Step = back.Step;
        State.Generating = true;
        State.ReplyFinish = null;
    }

    /// <summary>Ends the reply with an empty last chunk and the error <paramref name="message"/>, which every reader sees.</summary>
    /// <summary>A new turn or new settings must wait for the reply in progress.</summary>
    public void ThrowIfReplyInProgress(string id)
    {
        if (State.Generating)
            throw new InvalidOperationException($"Session '{id}' already has a reply in progress; send the next message when it has finished.");
    }

    /// <summary>The caller stopped the reply: it ends where it is, with nothing added.</summary>
    public void StopReply()
    {
        State.Generating = false;
        State.ReplyChunkSizes.Add(0);
        State.ReplyFinish = PersistedFinish.Write(ReplyFinish.Cancelled);
    }

    public void FailReply(string message)
    {
        State.Generating = false;
        State.ReplyChunkSizes.Add(0);
        State.ReplyFinish = PersistedFinish.Write(ReplyFinish.Error, message);
    }

    /// <summary>
    /// Why <paramref name="tree"/> cannot be this conversation's next step, or null: whose it is, then every rule of a
    /// tree (<see cref="TreeRules"/>) against the durable state. A tree that passes reaches the verifier, which checks
    /// only that its copy of the sequence is at the same step and length.
    /// </summary>
    public string? CheckTree(TreeSubmission tree, string id, int maxTreeNodes, int vocabSize) =>
        CheckTreeAt(tree, id, maxTreeNodes, vocabSize, State.Step, State.Committed);

    /// <summary>
    /// As <see cref="CheckTree"/>, against an earlier point of the reply: <paramref name="step"/> with the first
    /// <paramref name="committed"/> tokens (a tree drafted there while the server went on decoding, before it is moved on).
    /// <paramref name="replyMayHaveEnded"/>: the server may have finished the reply meanwhile (the tree is then answered
    /// with what it committed, not verified).
    /// </summary>
    public string? CheckTreeAt(TreeSubmission tree, string id, int maxTreeNodes, int vocabSize, long step, IReadOnlyList<int> committed, bool replyMayHaveEnded = false) =>
        tree.SessionId != id ? $"Tree is addressed to session '{tree.SessionId}', not '{id}'."
        : State.AttachedEdge is null || tree.EdgeId != State.AttachedEdge ? $"Edge '{tree.EdgeId}' is not attached to session '{id}'."
        : !State.Generating && !replyMayHaveEnded ? $"Session '{id}' has no reply in progress."
        : tree.Tree is null ? "The submission carries no tree."
        : TreeRules.Check(tree.Step, tree.CommittedLength, tree.Tokens, tree.Parents, tree.Confidence, step, committed, maxTreeNodes, vocabSize, $"session '{id}'");
}
