using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.Inference.Tokenization;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// Starts a turn whose admission (quota slot) is settled: encodes the user's message (and earlier turns, only into an
/// empty conversation) under the turn's settings with a seed, checks the context, tells the verifier, writes the turn,
/// and hands the reply to the attached edge (a notification, after the server decoded the reply's first step) or to the
/// server (<see cref="ServerDecoding"/>). The
/// verifier learns the turn before it is persisted; if the write fails, the verifier rebuilds when next used.
/// </summary>
public sealed class TurnStarter(string id, Conversation conversation, ModelHost models, VerifierLink verifier, SessionCommits commits,
    ReplyStream reply, EdgeLease edge, ServerDecoding server, ILogger logger)
{
    private SessionState S => conversation.State;

    /// <summary>Starts the turn under <paramref name="requested"/> settings if given (else the session's own).</summary>
    public async Task<TurnStarted> StartAsync(string text, string? tenant, IReadOnlyList<ChatTurn>? history = null, GenerationSettings? requested = null, string role = "user",
        string? toolCallId = null)
    {
        history ??= Array.Empty<ChatTurn>();
        // The seed (and who set it) as the turn will store it; nothing changes in memory until the turn is written.
        var (settings, seedOwner) = requested is not null ? WithSeed(requested) : S.Settings.Seed is null ? WithSeed(S.Settings) : (S.Settings, S.SeedOwner);
        var appended = history.Count > 0
            ? TurnFormatter.ConversationTokens(models.Tokenizer, models.ChatFormat, settings, history, text, role, toolCallId)
            : TurnFormatter.Tokens(models.Tokenizer, models.ChatFormat, S.Committed, settings, text, role, toolCallId);
        if (S.Committed.Count + appended.Length + 2 > models.Options.MaxContextTokens)
            throw new InvalidOperationException($"The conversation would exceed {models.Options.MaxContextTokens} tokens (MaxContextTokens).");

        int cached = await verifier.StartTurnAsync(S.Committed, appended, settings, S.Step);
        try
        {
            await commits.WriteChangeAsync(() => conversation.StartTurn(settings, seedOwner, tenant, history, new ChatTurn(role, text) { ToolCallId = toolCallId }, appended));
        }
        catch
        {
            // The verifier already holds the turn that storage refused: it rebuilds from the session's state when next used.
            verifier.Invalidate();
            throw;
        }

        reply.Reset();
        var turn = new TurnStarted(id, appended, S.Committed.Count, S.Step, cached);
        if (edge.HasObserver && S.AttachedEdge is not null)
        {
            if (models.Options.ServerFirstToken) turn = await WithFirstStepAsync(turn);
            edge.Touch();
            edge.Notify(e => e.OnTurnStarted(turn));
        }
        else
        {
            server.Schedule();
        }
        return turn;
    }

    /// <summary>
    /// The reply's first step, decoded here (SpecEdge:ServerFirstToken): the verifier has just computed the prompt, so a
    /// plain step gives the first token in one forward, where the edge's first tree would wait for its draft of the prompt,
    /// the upload and the verification. The turn then names what was committed; the edge drafts from the token after.
    /// A step that fails leaves the first step to the edge, as without this (what was committed stands: the turn says so).
    /// </summary>
    private async Task<TurnStarted> WithFirstStepAsync(TurnStarted turn)
    {
        try
        {
            var first = await verifier.CallAsync(v => v.DecodeAsync(id, S.Step));
            await commits.CommitAsync(first);
        }
        catch (Exception e)
        {
            logger.LogInformation("Session {Session}: the reply's first step was left to the edge: {Why}", id, e.Message);
        }
        // One step or none: the edge checks that what it is told adds up to the session's step and length.
        return S.Step == turn.Step + 1
            ? turn with { FirstTokens = S.Committed.Skip(turn.CommittedLength).ToArray(), Finished = !S.Generating }
            : turn;
    }

    /// <summary>
    /// The caller's seed, or a fresh random one: a known default (0) would let anyone predict every sample, and a seed
    /// fixed per conversation is what makes its replies reproducible on every path.
    /// </summary>
    /// <returns>The settings with a seed, and who may read it back (<see cref="SeedOwners"/>; null for a seed the session chose).</returns>
    public static (GenerationSettings Settings, string? SeedOwner) WithSeed(GenerationSettings settings) =>
        settings.Seed is null
            ? (settings with { Seed = BitConverter.ToUInt64(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) }, null)
            : (settings, SeedOwners.Of(VerifiedCaller.Current));
}
