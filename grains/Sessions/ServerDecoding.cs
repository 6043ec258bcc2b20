using Microsoft.Extensions.Logging;
using SpecEdge.Grains.Hosting;

namespace SpecEdge.Grains.Sessions;

/// <summary>
/// A session's decoding on the server while no edge is attached, or while its edge drafts its next tree after a hand-back
/// run (<paramref name="whileEdgeDrafts"/>, see <see cref="TreeIntake"/>): one step per tick of a grain timer that is armed for
/// one tick at a time and does not interleave, so a server step and an edge's request never overlap. Each step is
/// plain, or speculative with the server's draft model (the verifier drafts on its device thread); after a failure
/// <see cref="ServerStepPolicy"/> decides: redo, wait, stop, or end the reply with an error every reader sees.
/// </summary>
public sealed class ServerDecoding
{
    private readonly string _id;
    private readonly Conversation _conversation;
    private readonly VerifierLink _verifier;
    private readonly SessionCommits _commits;
    private readonly ServerStepPolicy _policy;
    private readonly ILogger _logger;
    private readonly IGrainTimer _timer;
    private readonly Func<bool> _whileEdgeDrafts;

    public ServerDecoding(IGrainBase grain, string id, Conversation conversation, VerifierLink verifier, SessionCommits commits, ServerStepPolicy policy, ILogger logger,
        Func<bool> whileEdgeDrafts)
    {
        (_id, _conversation, _verifier, _commits, _policy, _logger, _whileEdgeDrafts) = (id, conversation, verifier, commits, policy, logger, whileEdgeDrafts);
        _timer = grain.RegisterGrainTimer(StepAsync, new GrainTimerCreationOptions
        {
            DueTime = Timeout.InfiniteTimeSpan, Period = Timeout.InfiniteTimeSpan, Interleave = false,
        });
    }

    private SessionState S => _conversation.State;

    /// <summary>Arms the next step (at once, or after <paramref name="after"/>).</summary>
    public void Schedule(TimeSpan? after = null) => _timer.Change(after ?? TimeSpan.Zero, Timeout.InfiniteTimeSpan);

    private async Task StepAsync(CancellationToken cancellation)
    {
        bool forEdge = S.AttachedEdge is not null;
        if (!S.Generating || (forEdge && !_whileEdgeDrafts())) return;
        try
        {
            if (_policy.TooManyFailedWrites)
                throw new StepNotDurableException($"The conversation's state could not be saved {_policy.FailedWrites} times in a row; the reply was stopped at its last saved step.");
            var outcome = await _verifier.CallAsync(v => v.DecodeAsync(_id, S.Step, whileEdgeDrafts: forEdge));
            await _commits.CommitAsync(outcome);
            if (forEdge) SpecEdgeMetrics.HandBackSteps.Add(1);
            _policy.StepSucceeded();
            if (S.Generating) Schedule();
        }
        catch (Exception e) when (forEdge)
        {
            // As a hand-back run's failed step: the steps for the edge end there, what was committed stands, and the
            // edge's tree (or its resync) carries the reply on. The reply is not failed for a step the edge can redo.
            _logger.LogInformation("Session {Session}: server steps while the edge drafts stopped at step {Step}: {Why}", _id, S.Step, e.Message);
        }
        catch (Exception e)
        {
            var decision = _policy.AfterFailure(e, cancellation.IsCancellationRequested);
            switch (decision.Action)
            {
                case ServerStepAction.Retry:
                    _logger.LogInformation("Session {Session}: server step {Step} failed: {Why}", _id, S.Step, decision.Why);
                    Schedule(decision.After);
                    break;
                case ServerStepAction.FailReply:
                    await _commits.FailReplyAsync(e);
                    break;
            }
        }
    }
}
