using SpecEdge.Contracts;
using SpecEdge.Grains.Hosting;
using SpecEdge.Grains.Security;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// An edge's tree, by call or by channel: checked against the conversation (step, committed length, shape, limits),
/// verified on the session's verifier, committed (<see cref="SessionCommits"/>), and answered with its verdict or the
/// reason it was refused. Nothing changes for a refused tree. Each tree renews the edge's lease.
/// </summary>
public sealed class TreeIntake(string id, Conversation conversation, VerifierLink verifier, SessionCommits commits, EdgeLease edge, SpecEdgeSiloOptions options, int vocabSize)
{
    /// <summary>A tree as its verified sender sent it: an edge's credential names the edge, whatever the tree says (null stays null).</summary>
    public static TreeSubmission? AsSent(TreeSubmission? tree) => tree is null ? null : tree with { EdgeId = VerifiedCaller.EdgeIdOr(tree.EdgeId) };

    /// <summary>Returns the verdict, or the reason the tree was refused.</summary>
    public async Task<(StepVerdict? Verdict, string? Error)> HandleAsync(TreeSubmission tree)
    {
        long received = StepTiming.NowUnixMicroseconds();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string? error = conversation.CheckTree(tree, id, options.MaxTreeNodes, vocabSize);
        if (error is not null) return (null, error);
        edge.Touch();
        try
        {
            // Early verdicts go straight from the verifier to the edge that sent the tree (the lease's), never to anyone else.
            var outcome = await verifier.CallAsync(v => v.VerifyAsync(tree, options.EarlyVerdicts ? edge.Observer : null));
            SpecEdgeMetrics.TreeSize.Record(tree.Tokens.Length - 1);
            var committing = clock.Elapsed;
            await commits.CommitAsync(outcome);
            return (WithTiming(outcome, received, clock.Elapsed - committing, clock.Elapsed), null);
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
