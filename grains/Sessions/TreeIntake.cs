using Microsoft.Extensions.Logging;
using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;
using SpecEdge.Inference.Speculative;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// An edge's tree, by call or by channel: checked against the conversation (step, committed length, shape, limits),
/// verified on the session's verifier, committed (<see cref="SessionCommits"/>), and answered with its verdict or the
/// reason it was refused. Nothing changes for a refused tree. Each tree renews the edge's lease.
/// A step whose verifier found plain server decoding faster than the edge's loop may be followed by a hand-back
/// (<see cref="HandBackPolicy"/>): plain steps decoded here, committed one by one as the server's own, whose tokens go to
/// the edge with the verdict. No run starts, and a run in progress ends at its next step, while <paramref name="stopping"/>
/// (a stop of the reply is on its way, queued behind the run).
/// <para>
/// After a run the server goes on decoding while the edge drafts its next tree (SpecEdge:DecodeWhileEdgeDrafts,
/// <paramref name="decodeWhileEdgeDrafts"/> arms those steps; <see cref="DecodingWhileEdgeDrafts"/> says they are due). That
/// tree, for the point the run left the edge at, is then moved onto the session's current step (<see cref="TreeRebase"/>),
/// and its verdict carries the tokens committed meanwhile before its own. Without this the session left the forwards for
/// its edge's whole turnaround after every run: under steady load, one such gap every 64 steps.
/// </para>
/// </summary>
public sealed class TreeIntake(string id, Conversation conversation, VerifierLink verifier, SessionCommits commits, EdgeLease edge, SpecEdgeSiloOptions options, int vocabSize,
    ILogger logger, Func<bool> stopping, Action decodeWhileEdgeDrafts)
{
    private readonly HandBackPolicy _handBack = new(options.HandBackSteps);
    private int _replyOfLastTree = -1;
    /// <summary>Where the last run left the edge (its next tree's step and length, in the reply starting at ReplyStart); null: nowhere.</summary>
    private (long Step, int Length, int ReplyStart)? _edgeDrafting;

    private SessionState S => conversation.State;

    /// <summary>The server decodes the reply while the edge drafts its next tree after a hand-back run.</summary>
    public bool DecodingWhileEdgeDrafts => _edgeDrafting is { } at && S.Generating && at.ReplyStart == S.ReplyStart;

    /// <summary>The edge is back (a new attach), gone, or replaced: the server's steps for it end at the one in progress.</summary>
    public void StopDecodingForEdge() => _edgeDrafting = null;

    /// <summary>A tree as its verified sender sent it: an edge's credential names the edge, whatever the tree says (null stays null).</summary>
    public static TreeSubmission? AsSent(TreeSubmission? tree) => tree is null ? null : tree with { EdgeId = VerifiedCaller.EdgeIdOr(tree.EdgeId) };

    /// <summary>Returns the verdict, or the reason the tree was refused.</summary>
    public async Task<(StepVerdict? Verdict, string? Error)> HandleAsync(TreeSubmission tree)
    {
        long received = StepTiming.NowUnixMicroseconds();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (arrived, since, error) = Arrived(tree);
        if (error is not null) return (null, error);
        long sentFor = tree.Step;   // a tree that passed its checks has one
        if (arrived is null) return (WithTiming(EndedWhileEdgeDrafted(sentFor, since), received, TimeSpan.Zero, clock.Elapsed), null);
        tree = arrived;
        edge.Touch();
        try
        {
            // Early verdicts go straight from the verifier to the edge that sent the tree (the lease's), never to anyone else.
            var outcome = await verifier.CallAsync(v => v.VerifyAsync(tree, options.EarlyVerdicts ? edge.Observer : null, sentFor, since));
            SpecEdgeMetrics.TreeSize.Record(tree.Tokens.Length - 1);
            var committing = clock.Elapsed;
            // The reply's first edge step (after the server's first token, SpecEdge:ServerFirstToken, or the reply's first):
            // its first tokens from the edge are not held back by a run grown in the reply before.
            if (conversation.State.ReplyStart != _replyOfLastTree)
            {
                _handBack.Reset();
                _replyOfLastTree = conversation.State.ReplyStart;
            }
            await commits.CommitAsync(outcome);
            var persist = clock.Elapsed - committing;
            int handBack = outcome.Finished || stopping() ? 0 : _handBack.StepsAfter(outcome.ServerPays);
            if (handBack > 0) outcome = await HandBackAsync(outcome, handBack);
            if (handBack > 0 && options.DecodeWhileEdgeDrafts && !outcome.Finished && S.Generating && !stopping())
            {
                _edgeDrafting = (S.Step, S.Committed.Count, S.ReplyStart);
                decodeWhileEdgeDrafts();
            }
            // The tokens the server committed while the edge drafted come first, as steps of the verdict's own run.
            if (since.Length > 0)
                outcome = outcome with { Step = sentFor, AcceptedTokens = [.. since, .. outcome.AcceptedTokens], ServerSteps = (int)(tree.Step - sentFor) + outcome.ServerSteps };
            return (WithTiming(outcome, received, persist, clock.Elapsed), null);
        }
        catch (ArgumentException e)   // InvalidDraftException and friends: the tree was refused, nothing changed
        {
            return (null, e.Message);
        }
        finally
        {
            edge.Touch();
        }
    }

    /// <summary>
    /// The tree as it is verified, the tokens committed since it was drafted, or why it is refused. A tree for the point
    /// the last run left the edge at, which the server has since decoded past, is checked there and moved onto the
    /// current step (no tree at all: the server finished the reply meanwhile); any other tree is checked against the
    /// current step. A tree that passes ends the server's steps for the edge; a refused one does not (an edge sending
    /// garbage does not stall its reply).
    /// </summary>
    private (TreeSubmission? Tree, int[] Since, string? Error) Arrived(TreeSubmission tree)
    {
        if (_edgeDrafting is { } at && at.ReplyStart == S.ReplyStart && tree.Tree is not null && tree.Step == at.Step && tree.CommittedLength == at.Length && S.Step > at.Step)
        {
            string? stale = conversation.CheckTreeAt(tree, id, options.MaxTreeNodes, vocabSize, at.Step, S.Committed.GetRange(0, at.Length), replyMayHaveEnded: true);
            if (stale is not null) return (tree, [], stale);
            _edgeDrafting = null;
            int[] since = S.Committed.Skip(at.Length).ToArray();
            if (!S.Generating) return (null, since, null);
            var (moved, _) = TreeRebase.Onto(tree.Tree, since, S.Step, S.Committed.Count);
            return (tree with { Tree = moved }, since, null);
        }
        string? error = conversation.CheckTree(tree, id, options.MaxTreeNodes, vocabSize);
        if (error is null) _edgeDrafting = null;
        return (tree, [], error);
    }

    /// <summary>
    /// The answer to the edge's tree when the server finished the reply while the edge drafted it: the tokens since the
    /// point the tree was drafted for, all server steps, and the reply's end (the edge learns it without a refusal).
    /// </summary>
    private StepVerdict EndedWhileEdgeDrafted(long step, int[] since) =>
        new StepVerdict(id, step, since, finished: true, PersistedFinish.Read(S.ReplyFinish).Reason) { ServerSteps = (int)(S.Step - step) - 1 };

    /// <summary>
    /// Up to <paramref name="steps"/> plain steps decoded on the server right after <paramref name="verdict"/>'s, each
    /// committed as a server step is (readers see them as they become durable), for at most HandBackMaxMilliseconds.
    /// Returns the verdict with their tokens after its own and their count. A step that fails ends the run: what was
    /// committed stands, and the edge goes on from there (a step that could not be saved makes it resynchronise, as ever).
    /// </summary>
    private async Task<StepVerdict> HandBackAsync(StepVerdict verdict, int steps)
    {
        var tokens = new List<int>(verdict.AcceptedTokens);
        var last = verdict;
        int done = 0;
        double serverMs = verdict.ServerMilliseconds;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (done < steps && !last.Finished && conversation.State.Generating && clock.Elapsed.TotalMilliseconds < options.HandBackMaxMilliseconds && !stopping())
        {
            try
            {
                var next = await verifier.CallAsync(v => v.DecodeAsync(id, conversation.State.Step));
                await commits.CommitAsync(next);
                last = next;
            }
            catch (Exception e)
            {
                logger.LogInformation("Session {Session}: hand-back stopped after {Done} of {Steps} server steps: {Why}", id, done, steps, e.Message);
                break;
            }
            tokens.AddRange(last.AcceptedTokens);
            serverMs += last.ServerMilliseconds;
            done++;
        }
        SpecEdgeMetrics.HandBackSteps.Add(done);
        return done == 0 ? verdict : verdict with
        {
            AcceptedTokens = tokens.ToArray(), Finished = last.Finished, FinishReason = last.FinishReason, ServerSteps = done, ServerMilliseconds = serverMs,
            BatchSize = last.BatchSize, QueueLength = last.QueueLength,
        };
    }

    /// <summary>
    /// The verdict as it goes to the edge: with the step's breakdown (the verifier's queue and forward times, this
    /// session's commit and total) when <c>SpecEdge:StepTimings</c> is on, else without any (tokens only on the wire).
    /// Log probabilities are for the reply's readers, not the edge's drafting.
    /// </summary>
    private StepVerdict WithTiming(StepVerdict verdict, long received, TimeSpan persist, TimeSpan total) =>
        verdict with
        {
            Logprobs = null,
            Timing = options.StepTimings && verdict.Timing is { } t
                ? t with { ReceivedUnixMicroseconds = received, PersistMicroseconds = (int)(persist.Ticks / 10), SessionMicroseconds = (int)(total.Ticks / 10) }
                : null,
        };
}
